/**
 * npm run model:fetch -- [--model ID] [--revision REV] [--out DIR] [--endpoint URL] [--force]
 * Downloads the service's cross-encoder from the HuggingFace hub; see scripts/model-fetch/args.ts for the flags.
 */
import { USAGE, UsageError, parseCliArgs } from './model-fetch/args.ts';
import { FetchError } from './model-fetch/errors.ts';
import { fetchModel, type FetchModelResult } from './model-fetch/fetch-model.ts';
import { formatBytes, progressFor } from './model-fetch/progress.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

async function main(): Promise<number> {
  let command;
  try {
    command = parseCliArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`fetch-model: ${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (command.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  // Ctrl-C aborts the requests so the staging directory is removed before exit; a second Ctrl-C kills at once.
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  process.once('SIGTERM', () => interrupt.abort());

  const { options } = command;
  try {
    const result = await fetchModel({ ...options, progress: progressFor(process.stderr), signal: interrupt.signal });
    process.stdout.write(`${summary(result)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    process.stderr.write(`fetch-model: ${error.code}: ${error.message}\n`);
    return error.code === 'E_ABORTED' ? EXIT_INTERRUPTED : EXIT_FAILED;
  }
}

function summary(result: FetchModelResult): string {
  const { manifest, dir } = result;
  const at = manifest?.commit ? ` @ ${manifest.commit.slice(0, 12)}` : '';
  const name = manifest ? `${manifest.model}${at}` : 'a model';
  if (result.status === 'present') return `${dir} already holds ${name}; pass --force to fetch it again`;
  const bytes = result.manifest.files.reduce((sum, file) => sum + file.size, 0);
  return `fetched ${name} into ${dir} (${result.manifest.files.length} files, ${formatBytes(bytes)})`;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`fetch-model: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = EXIT_FAILED;
  },
);
