/**
 * The model:fetch command line: flags and environment -> FetchModelOptions, or a usage error.
 */
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import type { FetchModelOptions } from './fetch-model.ts';

export const DEFAULT_MODEL = 'cross-encoder/ms-marco-TinyBERT-L-2-v2';
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export const USAGE = `usage: npm run model:fetch -- [options]

Downloads a cross-encoder from the HuggingFace hub (config, tokenizer, onnx/model.onnx), verifies sizes and
sha256, and installs it in one step: an interrupted or failed fetch never leaves a partial model behind.

  --model ID        hub repo id (default ${DEFAULT_MODEL})
  --revision REV    branch, tag or commit (default main)
  --file PATH       the ONNX graph to fetch instead of onnx/model.onnx, e.g. onnx/model_quint8_avx2.onnx (an int8
                    variant; run it with MODEL_FILE=PATH)
  --out DIR         model directory (default models/<name of the repo>, i.e. models/ms-marco-TinyBERT-L-2-v2;
                    with --file, models/<name>-<file name without .onnx>)
  --endpoint URL    hub base URL (default $HF_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --force           fetch again even if DIR already holds a complete model
  -h, --help        show this help

environment: HF_TOKEN (sent as a bearer token, for private or gated repos), HF_ENDPOINT
exit status: 0 fetched or already present, 1 failed, 2 bad usage, 130 interrupted`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type CliCommand = { help: true } | { help: false; options: FetchModelOptions };

/** Optional namespace, then a name: the characters the hub allows in repo ids. */
const REPO_ID = /^(?:[\w.-]+\/)?[\w.-]+$/;
/** A file inside the repo: relative, no "..", an .onnx graph. */
const ONNX_FILE = /^(?!.*\.\.)[\w.-]+(?:\/[\w.-]+)*\.onnx$/;

export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  const { values } = parseFlags(argv);
  if (values.help) return { help: true };
  const model = values.model ?? DEFAULT_MODEL;
  if (!REPO_ID.test(model) || model.includes('..')) throw new UsageError(`--model: not a hub repo id: ${model}`);
  const revision = values.revision ?? 'main';
  if (revision === '') throw new UsageError('--revision: must not be empty');
  const endpoint = values.endpoint ?? (env.HF_ENDPOINT || DEFAULT_ENDPOINT);
  const onnxFile = values.file;
  if (onnxFile !== undefined && !ONNX_FILE.test(onnxFile)) {
    throw new UsageError(`--file: expected a relative path ending in .onnx without "..", got ${onnxFile}`);
  }
  const variant = onnxFile === undefined ? '' : `-${posix.basename(onnxFile, '.onnx')}`;
  if (!isHttpUrl(endpoint)) throw new UsageError(`--endpoint: not an http(s) URL: ${endpoint}`);
  return {
    help: false,
    options: {
      model,
      revision,
      outDir: values.out ?? posix.join('models', `${posix.basename(model)}${variant}`),
      onnxFile,
      endpoint,
      token: env.HF_TOKEN || undefined,
      force: values.force ?? false,
    },
  };
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        revision: { type: 'string' },
        out: { type: 'string' },
        file: { type: 'string' },
        endpoint: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
