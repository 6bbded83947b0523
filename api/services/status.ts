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
  /** The default model's queue (`queue` in /metrics, as before). */
  queue: RerankQueue;
  /** Every served model's queue by model name: per-model readiness and counts. */
  queues: ReadonlyMap<string, RerankQueue>;
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
  /** workers: ready workers in all; models: ready workers per served model. */
  checks: { redis: 'ok' | 'unavailable'; workers: number; models: Record<string, number> };
}

/** Ready when every served model has a ready worker: a request for any of them can then be scored. */
export async function readiness(deps: StatusDeps): Promise<Readiness> {
  let ready: WorkerReport[];
  const models = Object.fromEntries([...deps.queues.keys()].map((model) => [model, 0]));
  try {
    // Listing the reports is itself the Redis check; a worker reports only once its model is loaded and warm, and
    // one that is draining or recycling takes no new jobs.
    ready = (await deps.withRedis(() => liveWorkers(deps))).filter((worker) => worker.state === 'ready');
  } catch {
    return { status: 'not_ready', reason: 'Redis is unreachable.', checks: { redis: 'unavailable', workers: 0, models } };
  }
  for (const worker of ready) if (Object.hasOwn(models, worker.model)) models[worker.model] = (models[worker.model] ?? 0) + 1;
  const checks = { redis: 'ok' as const, workers: ready.length, models };
  const missing = Object.keys(models).filter((model) => models[model] === 0);
  if (missing.length > 0) {
    const which = deps.queues.size > 1 ? ` for ${missing.join(', ')}` : '';
    return {
      status: 'not_ready',
      reason: `No worker with a loaded model${which}, ready for jobs, has reported within its heartbeat window.`,
      checks,
    };
  }
  return { status: 'ready', checks };
}

export interface QueueCounts {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
}

async function queueCounts(queue: RerankQueue): Promise<QueueCounts> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    completed: counts.completed ?? 0,
    failed: counts.failed ?? 0,
    delayed: counts.delayed ?? 0,
  };
}

export interface Metrics extends ProcessStats {
  api: { pending_waits: number; uptime_seconds: number };
  redis: 'ok' | 'unavailable';
  /** The default model's queue. */
  queue: QueueCounts | null;
  /** Every served model's queue, by model name (each worker's report names its model). */
  queues: Record<string, QueueCounts> | null;
  workers: (WorkerReport & { reported_ms_ago: number })[];
}

/** The seed's fields for this process stay valid without Redis; queue and workers need it. */
export async function metrics(deps: StatusDeps): Promise<Metrics> {
  const own = deps.sampler.sample();
  const api = { pending_waits: deps.waiter.size, uptime_seconds: Math.round(process.uptime()) };
  try {
    const models = [...deps.queues.keys()];
    const [counts, workers] = await deps.withRedis(() =>
      Promise.all([Promise.all(models.map((model) => queueCounts(deps.queues.get(model) as RerankQueue))), liveWorkers(deps)]),
    );
    const queues = Object.fromEntries(models.map((model, i) => [model, counts[i] as QueueCounts]));
    const now = Date.now();
    return {
      ...own,
      api,
      redis: 'ok',
      queue: counts[0] ?? null,
      queues,
      workers: workers.map((worker) => ({ ...worker, reported_ms_ago: now - Date.parse(worker.reported_at) })),
    };
  } catch {
    return { ...own, api, redis: 'unavailable', queue: null, queues: null, workers: [] };
  }
}
