/**
 * Compact results. A /rerank job's scores live in their own key, next to the job, as Float64 little-endian
 * bytes (8 bytes per document, lossless, ~5x smaller than a JSON array), with the completed-job retention as
 * TTL. The job's return value and its 'completed' event stay small however many documents it had: at most
 * INLINE_SCORES_MAX scores ride in them (below), beyond that none.
 */
import type { RedisClient } from './queue.ts';

export const resultKey = (prefix: string, jobId: string) => `${prefix}:result:${jobId}`;

export function encodeScores(scores: ArrayLike<number>): Buffer {
  const buffer = Buffer.allocUnsafe(scores.length * 8);
  for (let i = 0; i < scores.length; i++) buffer.writeDoubleLE(scores[i] as number, i * 8);
  return buffer;
}

export function decodeScores(buffer: Buffer): number[] {
  const scores = new Array<number>(Math.floor(buffer.length / 8));
  for (let i = 0; i < scores.length; i++) scores[i] = buffer.readDoubleLE(i * 8);
  return scores;
}

export async function writeScores(
  redis: RedisClient,
  prefix: string,
  jobId: string,
  scores: ArrayLike<number>,
  ttlSeconds: number,
): Promise<void> {
  await redis.set(resultKey(prefix, jobId), encodeScores(scores), 'EX', ttlSeconds);
}

/** The scores, or undefined when the key is gone (past retention, or never written). */
export async function readScores(redis: RedisClient, prefix: string, jobId: string): Promise<number[] | undefined> {
  const buffer = await redis.getBuffer(resultKey(prefix, jobId));
  return buffer ? decodeScores(buffer) : undefined;
}

// Scores inline (service overhead, issue 11): a small job's scores also travel in its return value, hence in its
// 'completed' event, so the API that waits for it answers without reading the result key (one round trip less
// per sync request). Past the threshold the event would grow with the documents: those are read from the key.
/** At most this many scores inline: 64 documents are 684 base64 characters in each 'completed' event. */
export const INLINE_SCORES_MAX = 64;

/** The scores as base64 Float64 LE, when few enough to travel in the return value; else undefined. */
export function inlineScores(scores: ArrayLike<number>): string | undefined {
  return scores.length <= INLINE_SCORES_MAX ? encodeScores(scores).toString('base64') : undefined;
}

export function decodeInlineScores(text: string): number[] {
  return decodeScores(Buffer.from(text, 'base64'));
}
