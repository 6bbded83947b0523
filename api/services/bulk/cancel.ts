/**
 * DELETE /jobs/:id of a bulk job. Running: the job becomes `cancelled` (one Lua step, so no chunk stores scores
 * after it), workers running its chunks are told at once and stop before their next batch, and waiting chunks are
 * removed (a chunk that slips through reads the status first and scores nothing); its callback_url, if any, is
 * told. Finished: its keys are deleted.
 */
import { notifyBulkJobEnded } from '../../../shared/bulk/notify.ts';
import { cancelChannel, deleteBulkJob, endBulkJob, type BulkRecord } from '../../../shared/bulk/store.ts';
import type { WebhookQueue } from '../../../shared/webhook-queue.ts';
import type { BulkDeps } from './submit.ts';

export async function cancelBulkJob(
  deps: BulkDeps & { webhookQueue: WebhookQueue },
  record: BulkRecord,
): Promise<'cancelled' | 'deleted'> {
  const { redis, prefix, queue } = deps;
  const chunkIds = Array.from({ length: record.chunks }, (_, k) => `${record.id}-${k}`);
  return deps.withRedis(async () => {
    const ttlSeconds = deps.config.RETAIN_COMPLETED_SECONDS;
    if (await endBulkJob(redis, prefix, { id: record.id, status: 'cancelled', ttlSeconds })) {
      await redis.publish(cancelChannel(prefix), record.id);
      await notifyBulkJobEnded({ queue: deps.webhookQueue, redis, config: deps.config }, record.id);
      // Active chunks are locked and stay (remove answers 0); they end as skipped.
      await Promise.all(chunkIds.map((id) => queue.remove(id)));
      return 'cancelled';
    }
    await Promise.all([...chunkIds, record.id].map((id) => queue.remove(id)));
    await deleteBulkJob(redis, prefix, record.id);
    return 'deleted';
  });
}

