/**
 * Reads and validates a model directory in HuggingFace layout before anything heavy is loaded, so a wrong path
 * fails in milliseconds with a message that says what is missing and how to get it.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from './types.ts';

/** Paths and the config facts the engine needs; everything else in config.json is ignored. */
export interface ModelDir {
  dir: string;
  tokenizerPath: string;
  onnxPath: string;
  modelName: string;
  synthetic: boolean;
  /** Longest sequence the model accepts: min(max_position_embeddings, model_max_length) over those present. */
  maxSequenceLength: number | undefined;
  /** Embedding rows; token ids must stay below it. */
  vocabSize: number | undefined;
  /** From tokenizer_config.json when present. */
  padToken: string | undefined;
}

/** The ONNX graph HuggingFace exports write; a directory may hold variants beside it (MODEL_FILE selects one). */
export const DEFAULT_ONNX_FILE = 'onnx/model.onnx';

export interface ModelFile {
  /** Relative to the model directory, `/`-separated as on the hub. */
  path: string;
  /** The engine cannot load without it (`npm start` checks these before spawning). */
  readByEngine: boolean;
  /** model:fetch fails when the hub does not have it. */
  required: boolean;
}

/** The one list of a model directory's files (HuggingFace layout), for the engine, `npm start` and model:fetch. */
export function modelFiles(onnxFile: string = DEFAULT_ONNX_FILE): readonly ModelFile[] {
  return [
    { path: 'config.json', readByEngine: true, required: true },
    { path: 'tokenizer.json', readByEngine: true, required: true },
    { path: 'tokenizer_config.json', readByEngine: false, required: true },
    { path: 'special_tokens_map.json', readByEngine: false, required: true },
    { path: onnxFile, readByEngine: true, required: true },
    { path: 'vocab.txt', readByEngine: false, required: false },
  ];
}

/** What a model directory must hold for the engine to load it. */
export function requiredModelFiles(onnxFile: string = DEFAULT_ONNX_FILE): string[] {
  return modelFiles(onnxFile)
    .filter((file) => file.readByEngine)
    .map((file) => file.path);
}

/** HF writes model_max_length = 1e30 when a tokenizer has no limit; anything this large means "unset". */
const UNSET_MODEL_MAX_LENGTH = 1e9;

/** The sentence every model error ends with: how to obtain a valid directory. */
export function modelFixHint(dir: string): string {
  return (
    'Fix: download the real model with `npm run model:fetch`, or generate a random-weight one with ' +
    `\`npm run model:synthetic -- --arch tinybert --out ${dir}\`.`
  );
}

export async function readModelDir(modelDir: string, onnxFile: string = DEFAULT_ONNX_FILE): Promise<ModelDir> {
  const dir = path.resolve(modelDir);
  await assertFilesPresent(dir, onnxFile);
  const config = await readJsonObject(dir, 'config.json');
  const tokenizerConfig = await readOptionalJsonObject(dir, 'tokenizer_config.json');
  const maxPositions = optionalPositiveInt(dir, config, 'max_position_embeddings', 'config.json');
  const modelMaxLength = readModelMaxLength(dir, tokenizerConfig);
  const limits = [maxPositions, modelMaxLength].filter((n): n is number => n !== undefined);
  return {
    dir,
    tokenizerPath: path.join(dir, 'tokenizer.json'),
    onnxPath: path.join(dir, onnxFile),
    modelName: typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : path.basename(dir),
    synthetic: isSynthetic(config),
    maxSequenceLength: limits.length > 0 ? Math.min(...limits) : undefined,
    vocabSize: optionalPositiveInt(dir, config, 'vocab_size', 'config.json'),
    padToken: readPadToken(tokenizerConfig),
  };
}

async function assertFilesPresent(dir: string, onnxFile: string): Promise<void> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) {
    const what = dirStat ? 'is not a directory' : 'does not exist';
    throw new EngineError('MODEL_NOT_FOUND', `Model directory ${dir} ${what}. ${modelFixHint(dir)}`);
  }
  const required = requiredModelFiles(onnxFile);
  const missing: string[] = [];
  for (const file of required) {
    const fileStat = await stat(path.join(dir, file)).catch(() => undefined);
    if (!fileStat?.isFile()) missing.push(file);
  }
  if (missing.length > 0) {
    throw new EngineError(
      'MODEL_NOT_FOUND',
      `Model directory ${dir} is incomplete: missing ${missing.join(', ')} ` +
        `(expected HuggingFace layout: ${required.join(', ')}). ${modelFixHint(dir)}`,
    );
  }
}

type JsonObject = Record<string, unknown>;

async function readJsonObject(dir: string, file: string): Promise<JsonObject> {
  const filePath = path.join(dir, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(filePath, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new EngineError('MODEL_INVALID', `${filePath} is not valid JSON (${reason}). ${modelFixHint(dir)}`, {
      cause: err,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EngineError('MODEL_INVALID', `${filePath} must hold a JSON object. ${modelFixHint(dir)}`);
  }
  return parsed as JsonObject;
}

async function readOptionalJsonObject(dir: string, file: string): Promise<JsonObject | undefined> {
  const present = await stat(path.join(dir, file)).then((s) => s.isFile(), () => false);
  return present ? readJsonObject(dir, file) : undefined;
}

function optionalPositiveInt(dir: string, obj: JsonObject, key: string, file: string): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new EngineError(
      'MODEL_INVALID',
      `${path.join(dir, file)}: "${key}" must be a positive integer, got ${JSON.stringify(value)}. ${modelFixHint(dir)}`,
    );
  }
  return value;
}

function readModelMaxLength(dir: string, tokenizerConfig: JsonObject | undefined): number | undefined {
  if (!tokenizerConfig) return undefined;
  const value = tokenizerConfig.model_max_length;
  if (typeof value === 'number' && value >= UNSET_MODEL_MAX_LENGTH) return undefined;
  return optionalPositiveInt(dir, tokenizerConfig, 'model_max_length', 'tokenizer_config.json');
}

function readPadToken(tokenizerConfig: JsonObject | undefined): string | undefined {
  const pad = tokenizerConfig?.pad_token;
  if (typeof pad === 'string') return pad;
  // Newer transformers write special tokens as AddedToken objects.
  if (typeof pad === 'object' && pad !== null && typeof (pad as JsonObject).content === 'string') {
    return (pad as JsonObject).content as string;
  }
  return undefined;
}

function isSynthetic(config: JsonObject): boolean {
  const marker = config.rerank_queue;
  return typeof marker === 'object' && marker !== null && (marker as JsonObject).synthetic === true;
}
