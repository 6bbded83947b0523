/**
 * The inference engine's public contract. The engine knows nothing of HTTP or BullMQ: the worker maps its
 * Config onto EngineOptions, and the score CLI maps its flags onto the same object.
 */
import type { ChunkOptions } from './chunking.ts';

/** Options for loading an engine; every field but modelDir has a documented default. */
export interface EngineOptions {
  /** Directory in HuggingFace layout: config.json, tokenizer.json, onnx/model.onnx. */
  modelDir: string;
  /** The ONNX graph inside modelDir, e.g. an int8 variant (`npm run model:quantize`); default onnx/model.onnx. */
  modelFile?: string;
  /** Max tokens per (query, doc) pair including [CLS]/[SEP]; default 64, capped by the model's limit. */
  maxLength?: number;
  /** ONNX Runtime intra-op threads; default os.availableParallelism(). */
  intraOpThreads?: number;
  /** Upper bound on padded tokens (rows x longest row) per inference call; bounds memory, not request size. */
  tokenBudget?: number;
  /** Upper bound on rows per inference call; default 32 (batch 8-32 is the measured sweet spot at 64 tokens). */
  maxBatchRows?: number;
  /** ONNX Runtime CPU memory arena; default chosen by measurement (see BENCHMARKS.md). */
  cpuMemArena?: boolean;
  /**
   * Run inference on a worker thread (session-thread.ts), so the event loop and the tokenizer keep going while a
   * batch runs; default true (BENCHMARKS.md, "Inference on a worker thread"). false runs it on the calling thread.
   */
  inferenceThread?: boolean;
}

export interface ScoreOptions {
  /** Return raw logits instead of sigmoid(logit). */
  raw?: boolean;
  /** Score documents longer than the window by overlapping windows (chunking.ts); default: truncate them. */
  chunk?: ChunkOptions;
  /**
   * 'bulk' pairs yield to 'interactive' ones (the default): a round of batches with interactive pairs takes no bulk
   * pairs, and a bulk-only round is one batch, so an interactive call waits at most for one batch in flight.
   */
  priority?: 'interactive' | 'bulk';
  /** Aborting stops the call before its next batch (CANCELLED); nothing more of it is scored. */
  signal?: AbortSignal;
}

/** What happened to documents longer than the window. */
export interface LongDocuments {
  /**
   * Documents whose end was not scored. When truncating: pairs that filled the window, i.e. cut ones plus those
   * that fit it exactly (telling them apart would cost a full tokenization). When chunking: documents with more
   * than maxChunks windows' worth of tokens.
   */
  truncated: number;
  /** Documents scored by two windows or more (chunking only). */
  chunked: number;
}

/** Where the time of one score() call went, for metrics and logs. */
export interface ScoreTimings {
  /**
   * Time the call waited for the tokenizer. Tokenization of the next chunk runs behind inference of the current
   * one; only the part not hidden that way is counted, i.e. what tokenization added to the call's latency.
   */
  tokenizeMs: number;
  /**
   * Wall time of the ONNX Runtime calls this call's pairs took part in, each counted by the call's share of its
   * rows: concurrent calls share batches, and their inferenceMs add up to the engine's inference time.
   */
  inferenceMs: number;
  /** Number of inference calls this call's pairs took part in. */
  batches: number;
  /**
   * Rows of those inference calls, other calls' rows included: above the call's document count when it shared
   * batches with concurrent calls.
   */
  batchRows: number;
  /** Real (unpadded) tokens of all pairs, special tokens included. */
  tokens: number;
}

export interface ScoreResult {
  /** One score per document, in input order. */
  scores: number[];
  timings: ScoreTimings;
  /** Set by every score() call of the engine; optional for the scheduler's partial results and test stand-ins. */
  longDocuments?: LongDocuments;
}

export interface EngineInfo {
  modelDir: string;
  /** `_name_or_path` from config.json when present, else the directory's name. */
  modelName: string;
  maxLength: number;
  inputNames: readonly string[];
  /** True when the exact pure-TypeScript WordPiece tokenizer serves this model (else the binding does). */
  fastTokenizer: boolean;
  /** True for generated random-weight models (config.json `rerank_queue.synthetic`): their scores mean nothing. */
  synthetic: boolean;
}

export interface RerankEngine {
  readonly info: EngineInfo;
  score(query: string, documents: readonly string[], options?: ScoreOptions): Promise<ScoreResult>;
  close(): Promise<void>;
}

export type EngineErrorCode = 'MODEL_NOT_FOUND' | 'MODEL_INVALID' | 'INVALID_OPTIONS' | 'INFERENCE_FAILED' | 'CANCELLED';

/**
 * Start-up errors (MODEL_*, INVALID_OPTIONS: a bad EngineOptions value) are fatal for the process;
 * INFERENCE_FAILED belongs to one call.
 */
export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}
