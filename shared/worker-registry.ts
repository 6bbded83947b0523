/**
 * Workers publish their own metrics to Redis; the API lists them. Each report is a key with an expiry, indexed
 * in a sorted set by report time, so a dead worker drops out by itself. All keys share the queue's hash tag.
 */
import type { RedisClient } from './queue.ts';
import type { ProcessStats } from './process-stats.ts';

/**
 * loading: not consuming yet; ready: consuming; draining: finishing its active jobs, taking no new ones (shutdown,
 * memory soft mark); recycling: about to exit and be replaced (memory cap).
 */
export const WORKER_STATES = ['loading', 'ready', 'draining', 'recycling'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/**
 * A cumulative histogram in Prometheus' shape, seconds: counts[i] observations were <= le[i]; count is the +Inf
 * bucket. Cumulative since the worker started, so the API can expose it as a real Prometheus histogram.
 */
export interface CumulativeHistogram {
  le: number[];
  counts: number[];
  sum: number;
  count: number;
}

export interface WorkerReport extends ProcessStats {
  worker_id: string;
  hostname: string;
  pid: number;
  model: string;
  /** Generated random-weight model: its scores mean nothing. */
  model_synthetic: boolean;
  max_length: number;
  state: WorkerState;
  /** User + system CPU time since the worker started (cpu_percent is since the previous report). */
  cpu_seconds_total: number;
  jobs: { completed: number; failed: number; active: number };
  /** (query, document) pairs scored by completed jobs. */
  pairs_scored: number;
  /** Per-stage latency of recent jobs, milliseconds. */
  latency_ms: Record<string, { p50: number; p90: number; p99: number; count: number }>;
  /** Per-stage latency of every job since the worker started. */
  histograms_seconds: Record<string, CumulativeHistogram>;
  started_at: string;
  reported_at: string;
}

/** Three missed beats: one late beat (GC pause, slow Redis) must not make a live worker vanish. */
const REPORT_TTL_BEATS = 3;

/** How long a report stays valid: the worker publishes with this expiry, the API lists reports this young. */
export function reportTtlMs(heartbeatMs: number): number {
  return heartbeatMs * REPORT_TTL_BEATS;
}

const indexKey = (prefix: string) => `${prefix}:workers`;
const reportKey = (prefix: string, workerId: string) => `${prefix}:workers:${workerId}`;

export async function publishWorkerReport(
  redis: RedisClient,
  prefix: string,
  report: WorkerReport,
  ttlMs: number,
): Promise<void> {
  await redis
    .multi()
    .set(reportKey(prefix, report.worker_id), JSON.stringify(report), 'PX', ttlMs)
    .zadd(indexKey(prefix), Date.parse(report.reported_at), report.worker_id)
    .exec();
}

export async function removeWorkerReport(redis: RedisClient, prefix: string, workerId: string): Promise<void> {
  await redis.multi().del(reportKey(prefix, workerId)).zrem(indexKey(prefix), workerId).exec();
}

/** Live workers: those whose report has not expired. Stale index entries are pruned on the way. */
export async function listWorkerReports(redis: RedisClient, prefix: string, maxAgeMs: number): Promise<WorkerReport[]> {
  const oldest = Date.now() - maxAgeMs;
  const replies = await redis
    .multi()
    .zremrangebyscore(indexKey(prefix), '-inf', `(${oldest}`)
    .zrange(indexKey(prefix), '0', '-1')
    .exec();
  const [, [listError, listed] = []] = replies ?? [];
  if (listError) throw listError;
  const ids = listed as string[];
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map((id) => reportKey(prefix, id)));
  return values.filter((value): value is string => value !== null).map((value) => JSON.parse(value) as WorkerReport);
}
