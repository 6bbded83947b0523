/**
 * Webhook delivery runs through its own BullMQ queue (`webhooks`), so a notification survives restarts and its
 * retries use BullMQ's exponential backoff. Both processes use this file: whoever learns that a bulk job ended
 * calls enqueueWebhook; the worker process consumes the queue (worker/webhooks.ts).
 *
 *   enqueueWebhook({ queue, redis, config }, { jobId, status, finishedAt, url })
 *
 * - `queue`: a WebhookQueue (createWebhookQueue; the API has one as app.webhookQueue), `redis`: any ioredis
 *   command connection, `config`: the service config (key prefix and retention).
 * - `url` must have passed checkCallbackUrl (api/services/callback-url.ts) when the job was submitted; the worker
 *   checks the allow list again before every attempt.
 * - Idempotent: one notification per job id; calling it again for the same job changes nothing.
 * - The outcome (pending -> delivered | failed, attempts, last status/error) is readable at once with
 *   readWebhookOutcome(redis, keyPrefix(config), jobId), for GET /jobs/:id to report as `webhook`.
 */
import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { Config } from './config.ts';
import { eventStreamOptions, keyPrefix, retentionOptions, type RedisClient } from './queue.ts';
import type { WebhookOutcome, WebhookPayload } from './schemas/webhook.ts';
import { WebhookStateValues } from './schemas/webhook.ts';

export const WEBHOOK_QUEUE_NAME = 'webhooks';

/** One notification: which job ended, how, when, and where to tell. */
export interface WebhookJobData {
  jobId: string;
  status: WebhookPayload['status'];
  /** ISO 8601. */
  finishedAt: string;
  url: string;
}

/** What a delivered webhook job returns (shown on the dashboard). */
export interface WebhookJobResult {
  status: number;
  attempts: number;
}

export type WebhookQueue = Queue<WebhookJobData, WebhookJobResult>;

export type WebhookConfig = Pick<
  Config,
  | 'QUEUE_PREFIX'
  | 'WEBHOOK_ATTEMPTS'
  | 'WEBHOOK_BACKOFF_MS'
  | 'RETAIN_COMPLETED_COUNT'
  | 'RETAIN_COMPLETED_SECONDS'
  | 'RETAIN_FAILED_COUNT'
  | 'RETAIN_FAILED_SECONDS'
  | 'EVENTS_MAX_LEN'
>;

export function webhookJobOptions(config: WebhookConfig): DefaultJobOptions {
  return {
    attempts: config.WEBHOOK_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.WEBHOOK_BACKOFF_MS },
    ...retentionOptions(config),
  };
}

export function createWebhookQueue(config: WebhookConfig, connection: ConnectionOptions): WebhookQueue {
  return new Queue(WEBHOOK_QUEUE_NAME, {
    connection,
    prefix: keyPrefix(config),
    defaultJobOptions: webhookJobOptions(config),
    streams: eventStreamOptions(config),
  });
}

/** The outcome hash of one job's webhook; it lives as long as a failed job is retained. */
export const webhookOutcomeKey = (prefix: string, jobId: string) => `${prefix}:webhook-outcome:${jobId}`;

/** Idempotent: one webhook job per bulk job (BullMQ ids may not contain ':'). */
const webhookJobId = (jobId: string) => `webhook-${jobId.replaceAll(':', '-')}`;

export interface WebhookTarget {
  queue: WebhookQueue;
  redis: RedisClient;
  config: WebhookConfig;
}

export async function enqueueWebhook(target: WebhookTarget, data: WebhookJobData): Promise<void> {
  const { queue, redis, config } = target;
  const key = webhookOutcomeKey(keyPrefix(config), data.jobId);
  // HSETNX: a second call, or a call after delivery, never turns a known outcome back into pending.
  const replies = await redis
    .multi()
    .hsetnx(key, 'state', 'pending')
    .hsetnx(key, 'attempts', '0')
    .expire(key, config.RETAIN_FAILED_SECONDS)
    .hget(key, 'state')
    .exec();
  // Delivered or failed: it is over. The finished BullMQ job may be gone already, so its id alone would not stop
  // a second POST. Pending: add (again), which also recovers a call that stopped between these two steps.
  const state = replies?.[3]?.[1];
  if (state === 'delivered' || state === 'failed') return;
  await queue.add(`${data.status} → ${new URL(data.url).host}`, data, { jobId: webhookJobId(data.jobId) });
}

/** What the webhook worker records after an attempt. */
export type WebhookOutcomeUpdate = Pick<WebhookOutcome, 'state' | 'attempts'> &
  Partial<Pick<WebhookOutcome, 'last_status' | 'last_error' | 'delivered_at'>>;

export async function recordWebhookOutcome(
  redis: RedisClient,
  config: Pick<Config, 'QUEUE_PREFIX' | 'RETAIN_FAILED_SECONDS'>,
  jobId: string,
  update: WebhookOutcomeUpdate,
): Promise<void> {
  const key = webhookOutcomeKey(keyPrefix(config), jobId);
  const fields = Object.entries(update).filter((entry): entry is [string, string | number] => entry[1] !== undefined);
  // A field the update leaves out (last_error after a success, last_status after a network error) is cleared.
  const cleared = ['last_status', 'last_error', 'delivered_at'].filter((field) => !(field in update));
  const multi = redis.multi().hset(key, Object.fromEntries(fields.map(([field, value]) => [field, String(value)])));
  if (cleared.length > 0) multi.hdel(key, ...cleared);
  await multi.expire(key, config.RETAIN_FAILED_SECONDS).exec();
}

/** The webhook outcome of a job, or undefined when it has no callback_url (or the outcome expired). */
export async function readWebhookOutcome(
  redis: RedisClient,
  prefix: string,
  jobId: string,
): Promise<WebhookOutcome | undefined> {
  const hash = await redis.hgetall(webhookOutcomeKey(prefix, jobId));
  const state = WebhookStateValues.find((value) => value === hash.state);
  if (!state) return undefined;
  const outcome: WebhookOutcome = { state, attempts: Number(hash.attempts ?? 0) };
  if (hash.last_status !== undefined) outcome.last_status = Number(hash.last_status);
  if (hash.last_error !== undefined) outcome.last_error = hash.last_error;
  if (hash.delivered_at !== undefined) outcome.delivered_at = hash.delivered_at;
  return outcome;
}
