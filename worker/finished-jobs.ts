/**
 * Documents are needed only until they are scored: once a job has completed (its scores are in its result key)
 * or failed for good, its documents list (if it has one, shared/job-documents.ts) is deleted and its data is
 * replaced by a stub (query start and document count, for the dashboard). Done after BullMQ has moved the job,
 * never before, so a retry always finds its documents.
 */
import type { Job, Worker } from 'bullmq';
import { deleteDocumentsList, documentCountOf } from '../shared/job-documents.ts';
import type { Logger } from '../shared/logger.ts';
import { strippedJobData, type RedisClient } from '../shared/queue.ts';

async function strip(job: Job, redis: RedisClient, logger: Logger): Promise<void> {
  const data = job.data as { stripped?: boolean; query?: unknown; segments?: { query: unknown }[] };
  if (data?.stripped) return;
  try {
    await deleteDocumentsList(redis, data);
    await job.updateData(strippedJobData({ query: data?.query ?? data?.segments?.[0]?.query }, documentCountOf(data)));
  } catch (error) {
    // Removed meanwhile (retention, a DELETE): nothing left to strip.
    logger.debug({ err: error, jobId: job.id }, 'could not strip a finished job');
  }
}

export function stripWhenFinished(
  worker: Worker,
  redis: RedisClient,
  logger: Logger,
  options: { onComplete: boolean },
): void {
  if (options.onComplete) worker.on('completed', (job) => void strip(job, redis, logger));
  worker.on('failed', async (job) => {
    if (job && (await job.getState().catch(() => undefined)) === 'failed') await strip(job, redis, logger);
  });
}
