/**
 * Queue wiring both processes share: names, job payload and result types, key prefix, job options and
 * Redis connection factories. Neither the API nor the worker builds these on its own.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { DefaultJobOptions } from 'bullmq';
import type { Config } from './config.ts';
import { ERRORS, isErrorCode, type ErrorCode } from './errors.ts';

export const QUEUE_NAME = 'rerank';
export const RERANK_JOB = 'rerank';

/** What the API enqueues: already validated and normalised (documents as plain strings). */
export interface RerankJobData {
  query: string;
  documents: string[];
  /** Raw logits instead of sigmoid scores. */
  raw: boolean;
  /** Model and max length from the API's config: part of the dedupe key, shown on the dashboard. */
  model: string;
  maxLength: number;
}

/** What the worker returns: one score per document in input order, plus where the time went. */
export interface RerankJobResult {
  scores: number[];
  model: string;
  workerId: string;
  timings: { queueMs: number; tokenizeMs: number; inferenceMs: number };
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

export function createRedisConnection(config: Pick<Config, 'REDIS_URL'>, role: ConnectionRole): Redis {
  return new Redis(redisUrl(config), redisOptions(role));
}

/** Retention and retry policy for every rerank job. */
export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: { count: config.RETAIN_COMPLETED_COUNT, age: config.RETAIN_COMPLETED_SECONDS },
    removeOnFail: { count: config.RETAIN_FAILED_COUNT, age: config.RETAIN_FAILED_SECONDS },
  };
}

export function eventStreamOptions(config: Config): { events: { maxLen: number } } {
  return { events: { maxLen: config.EVENTS_MAX_LEN } };
}
