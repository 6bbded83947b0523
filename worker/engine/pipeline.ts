/**
 * One score() call: documents are cut into chunks, tokenized and length-sorted per chunk, then run in batches.
 * With the binding tokenizer, chunk k+1 is tokenized on libuv's pool while chunk k runs inference; the
 * pure-TypeScript fast path (wordpiece.ts) runs on the main thread between runs, cheap enough not to need it.
 */
import { padBatch, planBatches, type BatchPlanOptions } from './batcher.ts';
import { scatterScores } from './scorer.ts';
import type { OnnxSession } from './session.ts';
import type { EncodedPair, PairTokenizer } from './tokenizer.ts';
import type { ScoreResult } from './types.ts';

export interface PipelineOptions extends BatchPlanOptions {
  /**
   * Pairs tokenized and length-sorted together. Larger chunks sort better (less padding). The first chunk is
   * only one batch (maxRows pairs), because its tokenization is the one part not hidden behind inference.
   */
  chunkSize: number;
}

/** Chunks of this many batches are tokenized ahead: enough for length-sorting to cut padding. */
const CHUNK_BATCHES = 4;

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
  session: OnnxSession;
  options: PipelineOptions;
}

interface TokenizedChunk {
  start: number;
  pairs: EncodedPair[];
}

export async function runPipeline(
  parts: PipelineParts,
  query: string,
  documents: readonly string[],
  raw: boolean,
): Promise<ScoreResult> {
  const scores = new Array<number>(documents.length).fill(Number.NaN);
  const timings = { tokenizeMs: 0, inferenceMs: 0, batches: 0, tokens: 0 };
  const chunks = planChunks(documents.length, parts.options);
  // The query is tokenized once per call, not once per chunk or pair.
  const prepared = parts.tokenizer.prepareQuery(query);
  prepared.catch(() => undefined); // surfaces through the first chunk; with no documents, nowhere
  const tokenize = (k: number): Promise<TokenizedChunk> | undefined => {
    const bounds = chunks[k];
    if (!bounds) return undefined;
    const [start, end] = bounds;
    const chunk = prepared
      .then((q) => parts.tokenizer.encodeDocs(q, documents.slice(start, end)))
      .then((pairs) => ({ start, pairs }));
    // If inference throws meanwhile, this chunk must not surface as an unhandled rejection.
    chunk.catch(() => undefined);
    return chunk;
  };

  let next = tokenize(0);
  for (let k = 0; next; k++) {
    // Only the wait is timed: tokenization that finished behind inference cost the call nothing.
    const t0 = performance.now();
    const chunk: TokenizedChunk = await next;
    timings.tokenizeMs += performance.now() - t0;
    next = tokenize(k + 1);
    await inferChunk(parts, chunk, scores, raw, timings);
  }
  return { scores, timings };
}

async function inferChunk(
  parts: PipelineParts,
  chunk: TokenizedChunk,
  scores: number[],
  raw: boolean,
  timings: ScoreResult['timings'],
): Promise<void> {
  const lengths = chunk.pairs.map((p) => p.ids.length);
  for (const indices of planBatches(lengths, parts.options)) {
    const batch = padBatch(chunk.pairs, indices, parts.tokenizer.padId);
    const t0 = performance.now();
    const logits = await parts.session.run(batch);
    timings.inferenceMs += performance.now() - t0;
    timings.batches += 1;
    timings.tokens += indices.reduce((sum, i) => sum + (lengths[i] ?? 0), 0);
    scatterScores(
      logits,
      indices.map((i) => chunk.start + i),
      scores,
      raw,
    );
  }
}
