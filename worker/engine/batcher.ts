/**
 * Groups tokenized pairs into inference batches by token budget, sorted by length so rows of similar length
 * share a batch and little compute goes to padding; then pads one batch into the model's input arrays.
 */
import type { EncodedPair } from './tokenizer.ts';

export interface BatchPlanOptions {
  /** Max padded tokens per batch (rows x longest row). A single row longer than this still gets its own batch. */
  tokenBudget: number;
  /** Max rows per batch. */
  maxRows: number;
}

/**
 * Returns batches of indices into `lengths`; every index appears exactly once. Rows are taken shortest first,
 * so the row being added is always the batch's longest and the padded size is rows x its length.
 */
export function planBatches(lengths: readonly number[], options: BatchPlanOptions): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0));
  const batches: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    const longest = lengths[index] ?? 0;
    const fits = current.length < options.maxRows && (current.length + 1) * longest <= options.tokenBudget;
    if (!fits && current.length > 0) {
      batches.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Row-major [rows, seqLen] int64 arrays, as BERT-style ONNX graphs take them. */
export interface PaddedBatch {
  rows: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

/**
 * Pads the selected pairs to the batch's longest row: pad id in ids, 0 in mask and type ids. Writes the int64s
 * through 32-bit views (low word = value, high word = 0; ids are small and non-negative, x86/ARM are
 * little-endian), which avoids a BigInt allocation per token on the main thread, where inference also runs.
 */
export function padBatch(pairs: readonly EncodedPair[], indices: readonly number[], padId: number): PaddedBatch {
  const selected = indices.map((i) => {
    const pair = pairs[i];
    if (!pair) throw new RangeError(`padBatch: no pair at index ${i}`);
    return pair;
  });
  const seqLen = Math.max(1, ...selected.map((p) => p.ids.length));
  const size = selected.length * seqLen;
  const inputIds = new BigInt64Array(size);
  const attentionMask = new BigInt64Array(size);
  const tokenTypeIds = new BigInt64Array(size);
  const ids32 = new Int32Array(inputIds.buffer);
  const mask32 = new Int32Array(attentionMask.buffer);
  const types32 = new Int32Array(tokenTypeIds.buffer);
  selected.forEach((pair, row) => {
    const offset = 2 * row * seqLen;
    for (let t = 0; t < seqLen; t++) {
      const real = t < pair.ids.length;
      ids32[offset + 2 * t] = real ? (pair.ids[t] as number) : padId;
      mask32[offset + 2 * t] = real ? 1 : 0;
      types32[offset + 2 * t] = real ? (pair.typeIds[t] ?? 0) : 0;
    }
  });
  return { rows: selected.length, seqLen, inputIds, attentionMask, tokenTypeIds };
}
