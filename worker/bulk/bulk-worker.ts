/**
 * The worker's second BullMQ Worker: bulk chunks and merges, from their own queue and in their own slots
 * (BULK_WORKER_CONCURRENCY), so /rerank jobs never wait for a slot behind bulk work. A chunk that fails for good
 * fails its bulk job, and the job's other chunks are cancelled.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { RedisClient } from '../../shared/queue.ts';
import type { Config } from '../../shared/config.ts';
import type { Logger } from '../../shared/logger.ts';
import { ERRORS, exposesMessage } from '../../shared/errors.ts';
import { notifyBulkJobEnded } from '../../shared/bulk/notify.ts';
import { cancelChannel, endBulkJob } from '../../shared/bulk/store.ts';
import {
  BULK_QUEUE_NAME,
  createBulkQueue,
  createRedisConnection,
  keyPrefix,
  parseFailure,
  type BulkChunkData,
  type BulkMergeData,
} from '../../shared/queue.ts';
import { createWebhookQueue, type WebhookTarget } from '../../shared/webhook-queue.ts';
import type { RerankEngine } from '../engine/index.ts';
import { CancelWatch } from './cancel-watch.ts';
import { processChunk } from './chunk-processor.ts';
import { mergeBulkJob } from './merge.ts';
import { stripWhenFinished } from '../finished-jobs.ts';
import type { HeldDocuments, HeldJobs } from '../held-documents.ts';
import { withPublicFailures } from '../public-failure.ts';

export interface BulkWorkerOptions {
  config: Config;
  engine: Pick<RerankEngine, 'score'>;
  workerId: string;
  /** Command connection shared with the /rerank processor (blocking role: waits out a RedisClient outage). */
  redis: RedisClient;
  logger: Logger;
  /** The process's bound on document text held, shared with the /rerank worker. */
  heldDocuments: HeldDocuments;
}

type BulkJob = Job<BulkChunkData | BulkMergeData>;

const isChunk = (job: BulkJob): job is Job<BulkChunkData> => 'segments' in job.data;

/**
 * Chunks have no crash guard of their own (worker/crash-guard.ts charges /rerank jobs): a chunk active beside a few
 * crashes caused by other jobs still completes, and one that kills its worker every time fails its bulk job after
 * this many stalls, instead of BullMQ's 1 (an innocent chunk failed at the second crash) or the /rerank worker's 100.
 */
const BULK_MAX_STALLED_COUNT = 3;

export class BulkWorker {
  private worker: Worker | undefined;
  /** The Worker's own connection: BullMQ leaves a connection it was given open, so close() ends it. */
  private connection: RedisClient | undefined;
  private watch: CancelWatch | undefined;
  private readonly queue: Queue;
  private readonly prefix: string;
  /** Where a bulk job's end is queued for its callback_url (worker/webhooks.ts delivers it). */
  private readonly webhooks: WebhookTarget;

  constructor(private readonly options: BulkWorkerOptions) {
    this.prefix = keyPrefix(options.config);
    this.queue = createBulkQueue(options.config, options.redis);
    this.queue.on('error', () => undefined); // the main worker logs RedisClient trouble
    const webhookQueue = createWebhookQueue(options.config, options.redis);
    webhookQueue.on('error', () => undefined);
    this.webhooks = { queue: webhookQueue, redis: options.redis, config: options.config };
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    this.watch = await CancelWatch.start(createRedisConnection(config, 'blocking'), this.prefix);
    this.connection = createRedisConnection(config, 'blocking');
    // Failures leave as `CODE: message` without stack or paths, as /rerank jobs' do (the dashboard shows them).
    let held: HeldJobs | undefined;
    const processor = withPublicFailures(async (job: BulkJob) => {
      try {
        return await this.process(job);
      } finally {
        held?.release(job.id);
      }
    });
    const worker = new Worker<BulkChunkData | BulkMergeData>(BULK_QUEUE_NAME, processor, {
      connection: this.connection,
      prefix: this.prefix,
      concurrency: config.BULK_WORKER_CONCURRENCY,
      // A killed worker's chunks come back as fast as its /rerank jobs (docs/operations.md).
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_STALLED_CHECK_MS,
      maxStalledCount: BULK_MAX_STALLED_COUNT,
    });
    this.worker = worker;
    held = this.options.heldDocuments.register(worker, config.BULK_WORKER_CONCURRENCY);
    worker.on('active', (job) => held?.add(job));
    worker.on('error', (error) => logger.debug({ err: error }, 'bulk worker error'));
    worker.on('failed', (job, error) => void this.onFailed(job, error));
    stripWhenFinished(worker, this.options.redis, logger, { onComplete: false });
    await worker.waitUntilReady();
  }

  private async process(job: BulkJob): Promise<unknown> {
    const { redis, workerId, engine } = this.options;
    if (isChunk(job)) {
      const watch = this.watch as CancelWatch;
      const model = this.options.config.MODEL_NAME;
      const context = { engine, workerId, model, redis, prefix: this.prefix, watch, queue: this.queue };
      const result = await processChunk(context, job);
      this.options.logger.info({ bulkId: job.data.bulkId, chunk: job.data.chunk, ...result }, 'bulk chunk done');
      return result;
    }
    const ttlSeconds = this.options.config.RETAIN_COMPLETED_SECONDS;
    const context = { redis, prefix: this.prefix, ttlSeconds, webhooks: this.webhooks };
    const merged = await mergeBulkJob(context, job.data.bulkId);
    this.options.logger.info({ bulkId: job.data.bulkId, ...merged }, 'bulk job merged');
    return merged;
  }

  /** A chunk or merge that will not be retried ends its bulk job as failed and stops its other chunks. */
  private async onFailed(job: BulkJob | undefined, error: Error): Promise<void> {
    if (!job) return;
    try {
      if ((await job.getState()) !== 'failed') return; // it will be retried
      const { redis, config, logger } = this.options;
      const { code, message } = parseFailure(error.message);
      // What GET /jobs/:id shows: a 5xx keeps the catalogue's message, as /rerank failures do (api failureOf).
      const shown = { code, message: exposesMessage(code) ? message : ERRORS[code].message };
      const bulkId = job.data.bulkId;
      const ttlSeconds = config.RETAIN_FAILED_SECONDS;
      if (await endBulkJob(redis, this.prefix, { id: bulkId, status: 'failed', error: shown, ttlSeconds })) {
        await redis.publish(cancelChannel(this.prefix), bulkId);
        logger.warn({ bulkId, jobId: job.id, code }, 'bulk job failed');
        await notifyBulkJobEnded(this.webhooks, bulkId);
      }
    } catch (failure) {
      this.options.logger.warn({ err: failure, jobId: job.id }, 'could not mark the bulk job failed');
    }
  }

  /** Takes no more chunks (the process's intake is held); active ones go on. A no-op before start(). */
  async pause(doNotWaitActive?: boolean): Promise<void> {
    await this.worker?.pause(doNotWaitActive);
  }

  resume(): void {
    this.worker?.resume();
  }

  /** Lets active chunks finish (like the /rerank worker), then ends every connection; each step runs. */
  async close(): Promise<void> {
    const { connection } = this;
    await this.worker?.close(connection !== undefined && connection.status !== 'ready').catch(() => undefined);
    this.watch?.close();
    connection?.disconnect();
    try {
      await this.queue.close();
    } finally {
      await this.webhooks.queue.close();
    }
  }
}
