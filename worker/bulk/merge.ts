/**
 * The last step of a bulk job: the scores its chunks wrote become one ranking (form 1: global order, ties by
 * index, then top_k; form 2: each request's own ranking under its position), stored compactly, and the scores
 * and chunk bookkeeping are dropped. Runs as its own job (id = the bulk id), so a crash mid-merge is retried.
 */
import type { RedisClient } from '../../shared/queue.ts';
import { ENTRY_BYTES, rankSlice, scoresFromBytes, writeEntries } from '../../shared/bulk/ranking.ts';
import { notifyBulkJobEnded } from '../../shared/bulk/notify.ts';
import { completeBulkJob, readBulkRecord, readBulkScores, type BulkRequestMeta } from '../../shared/bulk/store.ts';
import type { WebhookTarget } from '../../shared/webhook-queue.ts';

export interface MergeContext {
  redis: RedisClient;
  prefix: string;
  ttlSeconds: number;
  /** Where the job's callback_url webhook is queued once it completed. */
  webhooks: WebhookTarget;
}

export interface Merged {
  ranked: Buffer;
  kept: number;
  requests?: BulkRequestMeta[];
}

/** Pure: the merged ranking of `scores` for a job of either form. */
export function mergeScores(scores: Float64Array, topK: number | undefined, requests?: BulkRequestMeta[]): Merged {
  if (!requests) {
    const order = rankSlice(scores, 0, scores.length, topK ?? scores.length);
    const ranked = Buffer.allocUnsafe(order.length * ENTRY_BYTES);
    writeEntries(ranked, 0, order, scores, 0);
    return { ranked, kept: order.length };
  }
  const orders = requests.map((request) => rankSlice(scores, request.offset, request.count, request.top_k ?? request.count));
  const kept = orders.reduce((sum, order) => sum + order.length, 0);
  const ranked = Buffer.allocUnsafe(kept * ENTRY_BYTES);
  let at = 0;
  const metas = requests.map((request, k) => {
    const order = orders[k] as Uint32Array;
    writeEntries(ranked, at, order, scores, request.offset);
    const meta = { ...request, ranked: at, kept: order.length };
    at += order.length;
    return meta;
  });
  return { ranked, kept, requests: metas };
}

/**
 * Merges a bulk job whose chunks are all stored, then queues its webhook; a no-op when it was cancelled or merged
 * already (a retry after the webhook could not be queued queues it then: enqueueWebhook is idempotent).
 */
export async function mergeBulkJob(context: MergeContext, bulkId: string): Promise<{ merged: boolean }> {
  const { redis, prefix } = context;
  const record = await readBulkRecord(redis, prefix, bulkId);
  if (record?.status === 'completed') await notifyBulkJobEnded(context.webhooks, bulkId);
  if (!record || record.status !== 'active') return { merged: false };
  const bytes = await readBulkScores(redis, prefix, bulkId);
  if (!bytes) return { merged: false };
  const merged = mergeScores(scoresFromBytes(bytes, record.total), record.topK, record.requests);
  const done = await completeBulkJob(redis, prefix, { id: bulkId, ...merged, ttlSeconds: context.ttlSeconds });
  if (done) await notifyBulkJobEnded(context.webhooks, bulkId);
  return { merged: done };
}
