/**
 * A bulk job's ranking, merged from the scores its chunks wrote: global order (score descending, ties by index),
 * cut to top_k, stored as 12 bytes per entry (UInt32 index + Float64 score, little-endian) so that a page is one
 * GETRANGE and a finished 100,000-document job holds 1.2 MB.
 */
export const ENTRY_BYTES = 12;

export interface RankingEntry {
  index: number;
  score: number;
}

/** Positions 0..count-1 of `scores[offset..]` in ranking order; the first `keep` of them. */
export function rankSlice(scores: Float64Array, offset: number, count: number, keep: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => (scores[offset + b] as number) - (scores[offset + a] as number) || a - b);
  return keep < count ? order.slice(0, keep) : order;
}

/** Writes `order` (positions relative to offset) with their scores at entry `at` of `target`. */
export function writeEntries(target: Buffer, at: number, order: Uint32Array, scores: Float64Array, offset: number): void {
  order.forEach((position, k) => {
    const byte = (at + k) * ENTRY_BYTES;
    target.writeUInt32LE(position, byte);
    target.writeDoubleLE(scores[offset + position] as number, byte + 4);
  });
}

export function decodeEntries(buffer: Buffer): RankingEntry[] {
  const entries: RankingEntry[] = [];
  for (let byte = 0; byte + ENTRY_BYTES <= buffer.length; byte += ENTRY_BYTES) {
    entries.push({ index: buffer.readUInt32LE(byte), score: buffer.readDoubleLE(byte + 4) });
  }
  return entries;
}

/** Float64 scores from Redis bytes; copied so that the view is aligned whatever the buffer's offset. */
export function scoresFromBytes(buffer: Buffer, total: number): Float64Array {
  const scores = new Float64Array(total).fill(Number.NaN);
  const bytes = new Uint8Array(scores.buffer);
  bytes.set(buffer.subarray(0, Math.min(buffer.length, bytes.length)));
  return scores;
}
