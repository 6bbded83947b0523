/**
 * The worker image's HEALTHCHECK script against a real worker process on the shared Redis: healthy while this
 * host's worker beats, unhealthy once it has stopped, for a report whose process is gone, and without Redis.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort } from '../../scripts/lib/free-port.ts';
import { publishWorkerReport, type WorkerReport } from '../../shared/worker-registry.ts';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { REPO_ROOT, spawnService, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-healthcheck-${process.pid}`;
const HEARTBEAT_MS = 500;

let worker: ServiceProcess | undefined;

async function healthcheck(env: Record<string, string>): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker-healthcheck.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', QUEUE_PREFIX, WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number, output };
}

before(async () => {
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

after(async () => {
  await worker?.stop('SIGKILL');
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

test('healthy while the worker on this host reports, unhealthy once it has stopped', async () => {
  const modelDir = await ensureTestModel('tiny');
  worker = spawnService({
    entry: 'worker/main.ts',
    env: { REDIS_URL, QUEUE_PREFIX, MODEL_DIR: modelDir, INTRA_OP_THREADS: '1', WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS) },
  });
  await worker.waitForLine((line) => line.msg === 'worker ready');
  const healthy = await healthcheck({ REDIS_URL });
  assert.equal(healthy.code, 0, healthy.output);
  assert.match(healthy.output, new RegExp(`^healthy: ${hostname()}-${worker.child.pid} reported \\d+ ms ago`));

  assert.equal(await worker.stop('SIGTERM'), 0);
  const stopped = await healthcheck({ REDIS_URL });
  assert.equal(stopped.code, 1);
  assert.match(stopped.output, /^unhealthy: no live worker report from /);
});

test('a live report of a process that no longer exists on this host is not healthy', async () => {
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(gone, 'exit');
  const redis = new Redis(REDIS_URL);
  try {
    const now = new Date().toISOString();
    const report = { worker_id: `${hostname()}-${gone.pid}`, hostname: hostname(), pid: gone.pid, reported_at: now };
    await publishWorkerReport(redis, `{${QUEUE_PREFIX}}`, report as WorkerReport, 10_000);
  } finally {
    redis.disconnect();
  }
  // A long heartbeat, so that the report is still live however slowly the script starts.
  const result = await healthcheck({ REDIS_URL, WORKER_HEARTBEAT_MS: '10000' });
  assert.equal(result.code, 1);
  assert.match(result.output, /no live worker report .*\(1 live reports in all\)/);
});

test('unhealthy, with the reason, when Redis does not answer', async () => {
  const result = await healthcheck({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  assert.equal(result.code, 1);
  assert.match(result.output, /^unhealthy: Redis did not answer/);
});
