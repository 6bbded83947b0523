/**
 * npm run model:synthetic -- --arch tiny|tinybert --out DIR [--vocab FILE] [--seed N]
 *
 * Writes a BERT cross-encoder with random weights in HuggingFace layout, for tests and benchmarks while the real
 * model cannot be downloaded. Exit codes: 0 written, 1 generation failed, 2 bad flags.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ARCH_NAMES,
  DEFAULT_SEED,
  SYNTHETIC_NOTE,
  writeSyntheticModel,
  type ArchName,
  type SyntheticModelOptions,
  type SyntheticModelSummary,
} from './synthetic-model/index.ts';

const USAGE = `usage: npm run model:synthetic -- --arch ${ARCH_NAMES.join('|')} --out DIR [--vocab FILE] [--seed N]
  --arch   tinybert: the architecture of cross-encoder/ms-marco-TinyBERT-L-2-v2; tiny: small, for fast tests
  --out    directory to write (created if missing; existing model files are overwritten)
  --vocab  a BERT vocab.txt, e.g. data/bert-base-uncased-vocab.txt (the real model's, bundled; default: generated)
  --seed   unsigned 32-bit integer (default ${DEFAULT_SEED})`;

class UsageError extends Error {}

/** Flags -> options; undefined for --help. */
function parseOptions(argv: string[]): SyntheticModelOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        arch: { type: 'string' },
        out: { type: 'string' },
        vocab: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const arch = values.arch as ArchName | undefined;
  if (!arch || !ARCH_NAMES.includes(arch)) throw new UsageError(`--arch must be one of ${ARCH_NAMES.join(', ')}`);
  if (!values.out) throw new UsageError('--out DIR is required');
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (values.seed !== undefined && (!/^\d+$/.test(values.seed) || seed > 0xffffffff)) {
    throw new UsageError(`--seed must be an unsigned 32-bit integer, got ${values.seed}`);
  }
  const vocabFile = values.vocab === undefined ? undefined : resolve(values.vocab);
  return { arch, outDir: resolve(values.out), vocabFile, seed };
}

function report(summary: SyntheticModelSummary, seconds: number): string {
  const vocab = summary.vocabSource === 'file' ? 'from the vocab file' : 'generated';
  const width = Math.max(...summary.files.map((file) => file.path.length));
  const lines = summary.files.map(
    (file) => `  ${file.path.padEnd(width)}  ${file.bytes.toLocaleString('en-US').padStart(12)} B`,
  );
  const facts = `seed ${summary.seed}, ${summary.vocabSize} tokens ${vocab}`;
  return [
    `Wrote a synthetic ${summary.arch} model (${facts}) in ${seconds.toFixed(1)} s:`,
    `  ${summary.dir}`,
    ...lines,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = performance.now();
  try {
    const summary = await writeSyntheticModel(options);
    process.stdout.write(`${report(summary, (performance.now() - started) / 1000)}\n`);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`WARNING: ${SYNTHETIC_NOTE}. Use this model for tests and benchmarks only.\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
