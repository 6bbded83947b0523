/**
 * loadEngine: validate the directory, load tokenizer and graph, check they fit together, warm up; then score
 * through the tokenize -> schedule (batch across calls) -> infer -> scatter pipeline.
 */
import os from 'node:os';
import { readModelDir, modelFixHint, type ModelDir } from './model-dir.ts';
import { scoreInWindows } from './chunking.ts';
import { pipelineParts, runPipeline, type PipelineParts } from './pipeline.ts';
import { ThreadedSession } from './session-thread.ts';
import { OnnxSession, type BatchRunner, type SessionOptions } from './session.ts';
import { PairTokenizer } from './tokenizer.ts';
import { EngineError, type EngineInfo, type EngineOptions, type RerankEngine, type ScoreOptions } from './types.ts';

const DEFAULT_MAX_LENGTH = 64;
/** 32 rows x 64 tokens: the measured sweet spot (BENCHMARKS.md); bounds the activations of one call. */
const DEFAULT_TOKEN_BUDGET = 2048;
const DEFAULT_MAX_BATCH_ROWS = 32;
/**
 * On: measured at the defaults, peak RSS was 184-193 MB with the arena and 213-283 MB with ORT's per-run
 * malloc/free instead, at equal speed (BENCHMARKS.md, "CPU memory arena"). The arena keeps its high-water mark
 * for the life of the process; the token budget bounds that mark.
 */
export const DEFAULT_CPU_MEM_ARENA = true;
/** Off: see SessionOptions.spinning and BENCHMARKS.md, "Intra-op spinning". */
export const DEFAULT_INTRA_OP_SPINNING = false;
/** [CLS] a [SEP] b [SEP] needs room for the three specials and at least one token. */
const MIN_MAX_LENGTH = 4;

interface ResolvedOptions {
  maxLength: number;
  intraOpThreads: number;
  tokenBudget: number;
  maxBatchRows: number;
  cpuMemArena: boolean;
  inferenceThread: boolean;
}

export async function loadEngine(options: EngineOptions): Promise<RerankEngine> {
  const model = await readModelDir(options.modelDir, options.modelFile);
  const resolved = resolveOptions(options, model);
  const tokenizer = await PairTokenizer.load({
    tokenizerPath: model.tokenizerPath,
    modelDir: model.dir,
    maxLength: resolved.maxLength,
    padToken: model.padToken,
  });
  // Not an error: the binding tokenizes instead, exactly but slower.
  if (tokenizer.fastPathWarning) process.emitWarning(tokenizer.fastPathWarning, { code: 'RERANK_TOKENIZER_FAST_PATH' });
  if (model.vocabSize !== undefined && tokenizer.vocabSize > model.vocabSize) {
    throw new EngineError(
      'MODEL_INVALID',
      `${model.tokenizerPath} has ${tokenizer.vocabSize} tokens but config.json declares vocab_size ` +
        `${model.vocabSize}: tokenizer and model do not belong together. ${modelFixHint(model.dir)}`,
    );
  }
  const sessionOptions: SessionOptions = {
    onnxPath: model.onnxPath,
    modelDir: model.dir,
    intraOpThreads: resolved.intraOpThreads,
    cpuMemArena: resolved.cpuMemArena,
    spinning: DEFAULT_INTRA_OP_SPINNING,
  };
  const session = resolved.inferenceThread
    ? await ThreadedSession.create(sessionOptions)
    : await OnnxSession.create(sessionOptions);
  const info: EngineInfo = {
    modelDir: model.dir,
    modelName: model.modelName,
    maxLength: resolved.maxLength,
    inputNames: session.inputNames,
    synthetic: model.synthetic,
    fastTokenizer: tokenizer.usesFastPath,
  };
  const batching = { tokenBudget: resolved.tokenBudget, maxRows: resolved.maxBatchRows };
  const engine = new Engine(pipelineParts(tokenizer, session, batching), session, info);
  await warmUp(engine, model);
  return engine;
}

function resolveOptions(options: EngineOptions, model: ModelDir): ResolvedOptions {
  const requested = positiveInt('maxLength', options.maxLength, DEFAULT_MAX_LENGTH);
  if (requested < MIN_MAX_LENGTH) {
    throw new EngineError('INVALID_OPTIONS', `maxLength must be at least ${MIN_MAX_LENGTH}, got ${requested}`);
  }
  return {
    maxLength: Math.min(requested, model.maxSequenceLength ?? requested),
    intraOpThreads: positiveInt('intraOpThreads', options.intraOpThreads, os.availableParallelism()),
    tokenBudget: positiveInt('tokenBudget', options.tokenBudget, DEFAULT_TOKEN_BUDGET),
    maxBatchRows: positiveInt('maxBatchRows', options.maxBatchRows, DEFAULT_MAX_BATCH_ROWS),
    cpuMemArena: options.cpuMemArena ?? DEFAULT_CPU_MEM_ARENA,
    inferenceThread: options.inferenceThread ?? true,
  };
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new EngineError('INVALID_OPTIONS', `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** The first run allocates and plans; doing it at load keeps that cost off the first request. */
async function warmUp(engine: Engine, model: ModelDir): Promise<void> {
  try {
    await engine.score('warm-up query', ['a short warm-up document', 'another one']);
  } catch (err) {
    await engine.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new EngineError(
      'MODEL_INVALID',
      `Warm-up inference failed for ${model.onnxPath}: ${reason}. ${modelFixHint(model.dir)}`,
      { cause: err },
    );
  }
}

class Engine implements RerankEngine {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly parts: PipelineParts,
    private readonly session: BatchRunner,
    readonly info: EngineInfo,
  ) {}

  /** Concurrent calls share one inference loop and its batches (scheduler.ts). */
  score(query: string, documents: readonly string[], options: ScoreOptions = {}) {
    if (this.closing) return Promise.reject(new EngineError('INFERENCE_FAILED', 'Engine is closed'));
    // Whatever fails inside one call (tokenizer included) is that call's INFERENCE_FAILED.
    const score = (texts: readonly string[]) => runPipeline(this.parts, query, texts, options);
    const scored = options.chunk
      ? scoreInWindows(this.parts.tokenizer, query, documents, options.chunk, score)
      : score(documents);
    const call = scored.catch((err: unknown) => {
      if (err instanceof EngineError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new EngineError('INFERENCE_FAILED', `Scoring failed: ${reason}`, { cause: err });
    });
    this.inFlight.add(call);
    const forget = () => this.inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  /** Refuses new calls, lets calls in flight finish, then frees the session; idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.allSettled([...this.inFlight]).then(() => this.session.release());
    return this.closing;
  }
}
