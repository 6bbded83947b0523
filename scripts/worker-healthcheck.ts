/**
 * The worker image's HEALTHCHECK: exit 0 when a worker on this host, alive in this PID namespace (i.e. in this
 * container), has a live report in Redis, else 1. A report exists only once the model is loaded and warm and
 * stays only while the worker beats, so healthy means exactly what /ready and /metrics see. Reads the same
 * settings as the worker (REDIS_URL or REDIS_CLUSTER_NODES, QUEUE_PREFIX, WORKER_HEARTBEAT_MS).
 */
import { once } from 'node:events';
import { hostname } from 'node:os';
import { ConfigError, loadConfig, readEnv, type Config } from '../shared/config.ts';
import { createRedisConnection, keyPrefix } from '../shared/queue.ts';
import { listWorkerReports, reportTtlMs, type WorkerReport } from '../shared/worker-registry.ts';

/** Below Docker's default HEALTHCHECK timeout, so a hung Redis gives our message rather than a killed probe. */
const REDIS_TIMEOUT_MS = 3_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function liveReports(config: Config): Promise<WorkerReport[]> {
  const redis = createRedisConnection(config, 'producer');
  redis.on('error', () => undefined); // the failure is reported through the rejected wait below
  const timeout = AbortSignal.timeout(REDIS_TIMEOUT_MS);
  try {
    if (redis.status !== 'ready') await once(redis, 'ready', { signal: timeout });
    return await listWorkerReports(redis, keyPrefix(config), reportTtlMs(config.WORKER_HEARTBEAT_MS));
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(readEnv());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stdout.write(`unhealthy: ${error.message}\n`);
    return 1;
  }
  const host = hostname();
  let reports: WorkerReport[];
  try {
    reports = await liveReports(config);
  } catch (error) {
    process.stdout.write(`unhealthy: Redis did not answer (${(error as Error).message})\n`);
    return 1;
  }
  const own = reports.find((report) => report.hostname === host && isAlive(report.pid));
  if (!own) {
    process.stdout.write(`unhealthy: no live worker report from ${host} (${reports.length} live reports in all)\n`);
    return 1;
  }
  process.stdout.write(`healthy: ${own.worker_id} reported ${Date.now() - Date.parse(own.reported_at)} ms ago\n`);
  return 0;
}

process.exitCode = await main();
