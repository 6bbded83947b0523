/**
 * A bulk job's end reaches its callback_url: the process that made the transition (the worker's merge for
 * completed, its failure handler for failed, the API's DELETE for cancelled) calls this right after the Lua step
 * succeeded. The status and finished_at are read back from the record, so the webhook says exactly what
 * GET /jobs/:id says; enqueueWebhook is idempotent per job, so calling this again (a retried merge) sends nothing
 * twice.
 */
import { keyPrefix } from '../queue.ts';
import { WebhookJobStatusValues } from '../schemas/webhook.ts';
import { enqueueWebhook, type WebhookTarget } from '../webhook-queue.ts';
import { readBulkRecord } from './store.ts';

/** Enqueues the job's webhook when it has ended and has a callback_url; otherwise does nothing. */
export async function notifyBulkJobEnded(target: WebhookTarget, id: string): Promise<void> {
  const record = await readBulkRecord(target.redis, keyPrefix(target.config), id);
  if (!record?.callbackUrl || record.finishedAt === undefined) return;
  const status = WebhookJobStatusValues.find((value) => value === record.status);
  if (!status) return;
  const finishedAt = new Date(record.finishedAt).toISOString();
  await enqueueWebhook(target, { jobId: id, status, finishedAt, url: record.callbackUrl });
}
