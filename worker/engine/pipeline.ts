/**
 * One score() call: documents are cut into chunks, each chunk tokenized and handed to the engine's scheduler
 * (scheduler.ts), which batches the pairs of every call in flight. A call tokenizes its next chunk while the
 * scheduler works through the current one, and hands it over once the current one has been taken into a round,
 * so each call holds at most two chunks of pairs. With the binding tokenizer that tokenization runs on libuv's
 * pool beside inference; the pure-TypeScript fast path (wordpiece.ts) runs on the main thread between runs.
 */
import type { BatchPlanOptions } from './batcher.ts';
import { BatchScheduler, type ScheduledCall } from './scheduler.ts';
import type { BatchRunner } from './session.ts';
import type { EncodedPair, PairTokenizer } from './tokenizer.ts';
import { EngineError, type ScoreOptions, type ScoreResult } from './types.ts';

export interface PipelineOptions extends BatchPlanOptions {
  /**
   * Pairs tokenized together, and pairs the scheduler takes into one round of batches. Larger chunks sort better
   * (less padding). The first chunk is only one batch (maxRows pairs), because its tokenization is the one part
   * not hidden behind inference.
   */
  chunkSize: number;
}

/** Chunks of this many batches are tokenized ahead: enough for length-sorting to cut padding. */
const CHUNK_BATCHES = 4;
/**
 * Rows per batch of bulk pairs. Measured with real processes (bench/bulk.ts setup, 2 threads, load ~10): p50 of a
 * 20-document /rerank beside a bulk job 108 ms at 32 rows, 61 at 16, 39 at 8, 34 at 4 (idle ~20 ms); batch 8 costs
 * bulk work ~14% of its throughput (BENCHMARKS.md, 2,511 vs 2,911 pairs/s).
 */
const BULK_BATCH_ROWS = 8;

export function pipelineOptions(batch: BatchPlanOptions): PipelineOptions {
  return { ...batch, chunkSize: batch.maxRows * CHUNK_BATCHES };
}

/** [start, end) of each chunk of `count` documents. */
export function planChunks(count: number, options: PipelineOptions): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < count; ) {
    const end = Math.min(count, start + (start === 0 ? options.maxRows : options.chunkSize));
    chunks.push([start, end]);
    start = end;
  }
  return chunks;
}

export interface PipelineParts {
  tokenizer: PairTokenizer;
  scheduler: BatchScheduler;
  options: PipelineOptions;
}

/** The parts of one engine: every call scored through them shares one inference loop. */
export function pipelineParts(tokenizer: PairTokenizer, session: BatchRunner, batch: BatchPlanOptions): PipelineParts {
  const options = pipelineOptions(batch);
  const scheduler = new BatchScheduler({
    tokenBudget: options.tokenBudget,
    maxRows: options.maxRows,
    roundSize: options.chunkSize,
    bulkRows: Math.min(BULK_BATCH_ROWS, options.maxRows),
    padId: tokenizer.padId,
    run: (padded) => session.run(padded),
  });
  return { tokenizer, scheduler, options };
}

interface TokenizedChunk {
  start: number;
  pairs: EncodedPair[];
}

export function runPipeline(
  parts: PipelineParts,
  query: string,
  documents: readonly string[],
  options: ScoreOptions = {},
): Promise<ScoreResult> {
  const { signal } = options;
  const call = parts.scheduler.open(documents.length, options.raw ?? false, options.priority === 'bulk');
  if (signal) {
    const abort = () => call.fail(new EngineError('CANCELLED', 'Scoring was cancelled'));
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    const forget = () => signal.removeEventListener('abort', abort);
    call.result.then(forget, forget);
  }
  // Every pair is pushed before the call's last score arrives, so the count is complete when the result is.
  const filled = { pairs: 0 };
  if (documents.length > 0 && !call.settled) {
    feed(parts, call, query, documents, filled).catch((err: unknown) => call.fail(err));
  }
  return call.result.then((result) => ({ ...result, longDocuments: { truncated: filled.pairs, chunked: 0 } }));
}

async function feed(
  parts: PipelineParts,
  call: ScheduledCall,
  query: string,
  documents: readonly string[],
  filled: { pairs: number },
): Promise<void> {
  const chunks = planChunks(documents.length, parts.options);
  // The query is tokenized once per call, not once per chunk or pair.
  const prepared = parts.tokenizer.prepareQuery(query);
  const tokenize = (k: number): Promise<TokenizedChunk> | undefined => {
    const bounds = chunks[k];
    if (!bounds) return undefined;
    const [start, end] = bounds;
    const chunk = prepared
      .then((q) => parts.tokenizer.encodeDocs(q, documents.slice(start, end)))
      .then((pairs) => ({ start, pairs }));
    // If the call fails meanwhile, this chunk must not surface as an unhandled rejection.
    chunk.catch(() => undefined);
    return chunk;
  };

  let next = tokenize(0);
  for (let k = 0; next && !call.settled; k++) {
    // Only the wait is timed: tokenization that finished behind inference cost the call nothing.
    const t0 = performance.now();
    const chunk: TokenizedChunk = await next;
    call.timings.tokenizeMs += performance.now() - t0;
    // A pair at maxLength tokens was cut, or fits exactly: see LongDocuments.truncated.
    for (const pair of chunk.pairs) if (pair.ids.length >= parts.tokenizer.maxLength) filled.pairs += 1;
    call.push(chunk.start, chunk.pairs);
    next = tokenize(k + 1);
    await call.drained();
  }
}
