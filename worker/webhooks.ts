/**
 * The worker process's consumer of the `webhooks` queue (shared/webhook-queue.ts): one delivery attempt per
 * BullMQ attempt, so retries get BullMQ's exponential backoff and survive restarts. After each attempt the
 * outcome hash is updated (pending while retries remain, then delivered or failed) for GET /jobs/:id.
 * The allow list is checked again before every attempt: a host that is not allowed is never called.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '../shared/queue.ts';
import type { Config } from '../shared/config.ts';
import { formatFailure, createRedisConnection, keyPrefix } from '../shared/queue.ts';
import type { Logger } from '../shared/logger.ts';
import type { WebhookPayload } from '../shared/schemas/webhook.ts';
import {
  WEBHOOK_QUEUE_NAME,
  recordWebhookOutcome,
  type WebhookJobData,
  type WebhookJobResult,
  type WebhookOutcomeUpdate,
} from '../shared/webhook-queue.ts';
import { callbackUrlProblem } from '../shared/webhook-url.ts';
import { withPublicFailures } from './public-failure.ts';
import { throttledErrorLog } from './throttle.ts';
import { postWebhook } from './webhook-delivery.ts';

/** Deliveries wait on the network, not the CPU: several at once cost little. */
const CONCURRENCY = 8;

export function webhookBody(data: WebhookJobData): string {
  const payload: WebhookPayload = { job_id: data.jobId, status: data.status, finished_at: data.finishedAt };
  return JSON.stringify(payload);
}

type DeliverableJob = Pick<Job<WebhookJobData>, 'data' | 'attemptsMade' | 'opts'>;

export function createWebhookProcessor(config: Config, redis: RedisClient) {
  const record = (job: DeliverableJob, update: WebhookOutcomeUpdate) =>
    recordWebhookOutcome(redis, config, job.data.jobId, update);

  return async (job: DeliverableJob): Promise<WebhookJobResult> => {
    const attempts = job.attemptsMade + 1;
    const problem = callbackUrlProblem(job.data.url, config.WEBHOOK_ALLOWED_HOSTS);
    if (problem || !config.WEBHOOK_SECRET) {
      const message = problem?.message ?? 'WEBHOOK_SECRET is not set.';
      await record(job, { state: 'failed', attempts, last_error: message });
      throw new UnrecoverableError(formatFailure(problem?.code ?? 'CALLBACK_NOT_ALLOWED', message));
    }
    const result = await postWebhook({
      url: job.data.url,
      body: webhookBody(job.data),
      secret: config.WEBHOOK_SECRET,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    });
    if (result.ok) {
      const deliveredAt = new Date().toISOString();
      await record(job, { state: 'delivered', attempts, last_status: result.status, delivered_at: deliveredAt });
      return { status: result.status, attempts };
    }
    const final = !result.retryable || attempts >= (job.opts.attempts ?? 1);
    const state = final ? 'failed' : 'pending';
    await record(job, { state, attempts, last_status: result.status, last_error: result.error });
    const reason = formatFailure('WEBHOOK_DELIVERY_FAILED', result.error);
    throw result.retryable ? new Error(reason) : new UnrecoverableError(reason);
  };
}

export interface WebhookWorker {
  worker: Worker<WebhookJobData, WebhookJobResult>;
  /** Lets running deliveries finish, then disconnects. */
  close(): Promise<void>;
}

/** Starts consuming the webhooks queue on its own Redis connection. */
export function startWebhookWorker(config: Config, logger: Logger): WebhookWorker {
  const connection = createRedisConnection(config, 'blocking');
  const worker = new Worker<WebhookJobData, WebhookJobResult>(
    WEBHOOK_QUEUE_NAME,
    withPublicFailures(createWebhookProcessor(config, connection)),
    { connection, prefix: keyPrefix(config), concurrency: CONCURRENCY },
  );
  worker.on('error', throttledErrorLog(logger, 'webhook worker error'));
  worker.on('failed', (job, error) => {
    const { attemptsMade, data } = job ?? {};
    logger.warn({ jobId: data?.jobId, attemptsMade, reason: error.message }, 'webhook attempt failed');
  });
  worker.on('completed', (job, result) => logger.info({ jobId: job.data.jobId, ...result }, 'webhook delivered'));
  return {
    worker,
    async close() {
      try {
        await worker.close(connection.status !== 'ready');
      } finally {
        connection.disconnect();
      }
    },
  };
}
