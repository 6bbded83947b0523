/** Readiness and metrics: this process's own stats, the queue's counts and the workers' own reports. */
import type { Config } from '../../shared/config.ts';
import type { ProcessStats, ProcessStatsSampler } from '../../shared/process-stats.ts';
import { keyPrefix, type RedisClient } from '../../shared/queue.ts';
import { listWorkerReports, reportTtlMs, type WorkerReport } from '../../shared/worker-registry.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import type { JobWaiter } from './job-waiter.ts';

export interface StatusDeps {
  config: Config;
  redis: RedisClient;
  queue: RerankQueue;
  waiter: JobWaiter;
  sampler: ProcessStatsSampler;
  withRedis<T>(operation: () => Promise<T>): Promise<T>;
}

/** A worker counts while its last report is younger than the reports' TTL. */
const liveWorkers = (deps: StatusDeps): Promise<WorkerReport[]> =>
  listWorkerReports(deps.redis, keyPrefix(deps.config), reportTtlMs(deps.config.WORKER_HEARTBEAT_MS));

export interface Readiness {
  status: 'ready' | 'not_ready';
  reason?: string;
  checks: { redis: 'ok' | 'unavailable'; workers: number };
}

export async function readiness(deps: StatusDeps): Promise<Readiness> {
  let loaded: number;
  try {
    // Listing the reports is itself the Redis check; a worker reports only once its model is loaded and warm, and
    // one that is draining or recycling takes no new jobs.
    loaded = (await deps.withRedis(() => liveWorkers(deps))).filter((worker) => worker.state === 'ready').length;
  } catch {
    return { status: 'not_ready', reason: 'Redis is unreachable.', checks: { redis: 'unavailable', workers: 0 } };
  }
  if (loaded === 0) {
    return {
      status: 'not_ready',
      reason: 'No worker with a loaded model, ready for jobs, has reported within its heartbeat window.',
      checks: { redis: 'ok', workers: 0 },
    };
  }
  return { status: 'ready', checks: { redis: 'ok', workers: loaded } };
}

export interface Metrics extends ProcessStats {
  api: { pending_waits: number; uptime_seconds: number };
  redis: 'ok' | 'unavailable';
  queue: { waiting: number; active: number; completed: number; failed: number; delayed: number } | null;
  workers: (WorkerReport & { reported_ms_ago: number })[];
}

/** The seed's fields for this process stay valid without Redis; queue and workers need it. */
export async function metrics(deps: StatusDeps): Promise<Metrics> {
  const own = deps.sampler.sample();
  const api = { pending_waits: deps.waiter.size, uptime_seconds: Math.round(process.uptime()) };
  try {
    const [counts, workers] = await deps.withRedis(() =>
      Promise.all([
        deps.queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed'),
        liveWorkers(deps),
      ]),
    );
    const now = Date.now();
    return {
      ...own,
      api,
      redis: 'ok',
      queue: {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        active: counts.active ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
        delayed: counts.delayed ?? 0,
      },
      workers: workers.map((worker) => ({ ...worker, reported_ms_ago: now - Date.parse(worker.reported_at) })),
    };
  } catch {
    return { ...own, api, redis: 'unavailable', queue: null, workers: [] };
  }
}
