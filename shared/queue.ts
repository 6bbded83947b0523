/**
 * Queue wiring both processes share: names, job payload and result types, key prefix, job options and
 * Redis connection factories. Neither the API nor the worker builds these on its own.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { Config } from './config.ts';
import { ERRORS, isErrorCode, type ErrorCode } from './errors.ts';
import type { DocumentsList } from './job-documents.ts';

export const QUEUE_NAME = 'rerank';
/** A generic job name for jobs added directly (tests, tools); the API names its jobs for people (job-name.ts). */
export const RERANK_JOB = 'rerank';

/** What the API enqueues: already validated and normalised (documents as plain strings). */
export interface RerankJobData {
  query: string;
  /** As the API builds it; in Redis a large job has `documentsList` instead (shared/job-documents.ts). */
  documents: string[];
  documentsList?: DocumentsList;
  /** Raw logits instead of sigmoid scores. */
  raw: boolean;
  /**
   * The served model (its workers refuse other models' jobs) and the max length its workers report: part of the
   * dedupe key, shown on the dashboard.
   */
  model: string;
  maxLength: number;
  /** Present when documents longer than the window are scored by windows (absent: truncated, as before). */
  chunk?: { overlapTokens: number; maxChunks: number };
}

/**
 * What the worker returns: small on purpose, because BullMQ copies it into every 'completed' event. The scores
 * themselves (one per document, in input order) are in the job's result key (shared/results.ts), and for small
 * jobs also inline (`inlineScores`).
 */
export interface RerankJobResult {
  /** Number of scores in the result key. */
  count: number;
  model: string;
  workerId: string;
  timings: { queueMs: number; tokenizeMs: number; inferenceMs: number };
  /** Real (unpadded) tokens the model read for all pairs; absent in results of workers older than this field. */
  tokens?: number;
  /** Documents truncated or chunked (worker/engine LongDocuments); absent from older workers' results. */
  longDocuments?: { truncated: number; chunked: number };
  /** The scores too, base64 Float64 LE, for jobs of at most INLINE_SCORES_MAX documents (shared/results.ts). */
  inlineScores?: string;
}

/**
 * A failed job's reason travels through BullMQ as a string; it starts with an error code from the catalogue so
 * GET /jobs/:id can report `{code, message}`.
 */
export function formatFailure(code: ErrorCode, message: string): string {
  return `${code}: ${message}`;
}

/** BullMQ's own reason when it gives up a job that stalled too often (its worker died each time). */
const BULLMQ_STALLED_REASON = 'job stalled more than allowable limit';

export function parseFailure(reason: string | undefined): { code: ErrorCode; message: string } {
  const match = reason?.match(/^([A-Z_]+): (.*)$/s);
  if (match && isErrorCode(match[1])) return { code: match[1], message: match[2] ?? '' };
  if (reason === BULLMQ_STALLED_REASON) {
    return { code: 'WORKER_CRASHED', message: 'The job stopped the workers running it too many times; it was given up.' };
  }
  return { code: 'INTERNAL_ERROR', message: ERRORS.INTERNAL_ERROR.message };
}

/** BullMQ key prefix; braces make it a Redis Cluster hash tag so a queue's keys share one slot. */
export function keyPrefix(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `{${config.QUEUE_PREFIX}}`;
}

export function redisUrl(config: Pick<Config, 'REDIS_URL'>): string {
  return config.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export type ConnectionRole = 'producer' | 'blocking';

/**
 * producer: commands fail at once while Redis is down (enableOfflineQueue false), so HTTP requests answer 503
 * instead of hanging; commandTimeout bounds a command sent just before Redis stopped answering. blocking: for
 * Worker and QueueEvents, which BullMQ requires to retry forever.
 */
export function redisOptions(role: ConnectionRole): RedisOptions & { retryStrategy: (attempt: number) => number } {
  const options: RedisOptions =
    role === 'producer'
      ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 5_000 }
      : { maxRetriesPerRequest: null, enableOfflineQueue: true };
  return { ...options, lazyConnect: false, retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000) };
}

/** A connection to one Redis or to a Redis Cluster: everything that talks to Redis accepts either. */
export type RedisClient = Redis | Cluster;

type RedisSettings = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

export function createRedisConnection(config: RedisSettings, role: ConnectionRole): RedisClient {
  const nodes = clusterNodes(config);
  if (nodes) return new Cluster(nodes, clusterOptions(role));
  return new Redis(redisUrl(config), redisOptions(role));
}

// Redis Cluster (deployment)

/** REDIS_CLUSTER_NODES as ioredis seed nodes; undefined for a single Redis. */
export function clusterNodes(config: Pick<Config, 'REDIS_CLUSTER_NODES'>): { host: string; port: number }[] | undefined {
  return config.REDIS_CLUSTER_NODES?.split(',').map((node) => {
    const colon = node.lastIndexOf(':');
    return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
  });
}

/**
 * The same roles on a cluster. ioredis takes retries and the offline queue at the cluster level and the rest per
 * node; a blocking client must have maxRetriesPerRequest null in its redisOptions, which is where BullMQ checks it.
 */
export function clusterOptions(role: ConnectionRole): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = redisOptions(role);
  return { redisOptions: perNode, clusterRetryStrategy: retryStrategy, enableOfflineQueue, lazyConnect };
}

/**
 * What QueueEvents is given: options for a single Redis (BullMQ opens and closes its own client, as before); a
 * cluster client for a cluster, since BullMQ builds only single-node clients from options. QueueEvents.close()
 * disconnects the client it was given either way.
 */
export function queueEventsConnection(config: RedisSettings): ConnectionOptions {
  if (config.REDIS_CLUSTER_NODES === undefined) return { ...redisOptions('blocking'), url: redisUrl(config) };
  return createRedisConnection(config, 'blocking');
}

export type RetentionSettings = Pick<
  Config,
  'RETAIN_COMPLETED_COUNT' | 'RETAIN_COMPLETED_SECONDS' | 'RETAIN_FAILED_COUNT' | 'RETAIN_FAILED_SECONDS'
>;

/** How long finished jobs of every queue stay: the one retention policy. */
export function retentionOptions(config: RetentionSettings): DefaultJobOptions {
  return {
    // By age: a finished job keeps its compact result only (see shared/results.ts), so no count is needed
    // (RETAIN_COMPLETED_COUNT 0 means no cap; BullMQ would read a count of 0 as "remove at once").
    removeOnComplete: {
      age: config.RETAIN_COMPLETED_SECONDS,
      ...(config.RETAIN_COMPLETED_COUNT > 0 ? { count: config.RETAIN_COMPLETED_COUNT } : {}),
    },
    removeOnFail: { count: config.RETAIN_FAILED_COUNT, age: config.RETAIN_FAILED_SECONDS },
    // Failed jobs are shown on the dashboard: keep no stack traces (server paths) in job.stacktrace.
    stackTraceLimit: 0,
  };
}

/** Retention and retry policy for every rerank job. */
export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    ...retentionOptions(config),
  };
}

export function eventStreamOptions(config: Pick<Config, 'EVENTS_MAX_LEN'>): { events: { maxLen: number } } {
  return { events: { maxLen: config.EVENTS_MAX_LEN } };
}

// Bulk jobs (POST /jobs): chunks in their own queue, so a worker serves /rerank jobs in their own slots.
// Chunks and the final merge job are both named after the bulk job (shared/job-name.ts) for the dashboard.
export const BULK_QUEUE_NAME = 'rerank-bulk';

/** The bulk queue, as the API (adding chunks) and the workers (adding merges) open it: the one retention policy. */
export function createBulkQueue(config: Config, connection: ConnectionOptions): Queue {
  return new Queue(BULK_QUEUE_NAME, {
    connection,
    prefix: keyPrefix(config),
    defaultJobOptions: defaultJobOptions(config),
    streams: eventStreamOptions(config),
  });
}

/** Consecutive documents of one rerank inside a chunk; `offset` is the first pair's position in the bulk job. */
export interface BulkSegment {
  query: string;
  documents: string[];
  offset: number;
}

export interface BulkChunkData {
  bulkId: string;
  chunk: number;
  segments: BulkSegment[];
  raw: boolean;
  model: string;
  maxLength: number;
}

export interface BulkMergeData {
  bulkId: string;
}

export interface BulkChunkResult {
  pairs: number;
  workerId: string;
  /** True when the bulk job was cancelled or had failed before this chunk could finish: nothing was stored. */
  skipped: boolean;
}

/** A finished job keeps this instead of its documents: enough for the dashboard, nothing to score again. */
export function strippedJobData(data: { query?: unknown }, documentCount: number): Record<string, unknown> {
  const query = typeof data.query === 'string' ? data.query.slice(0, 200) : undefined;
  return { query, documentCount, documents: [], stripped: true };
}
