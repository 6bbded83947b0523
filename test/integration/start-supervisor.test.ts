/**
 * `npm start` as a real process: the API and a worker under the supervisor, a killed worker restarted, a clean
 * stop; and the refusals that must happen before anything starts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { restartDelay } from '../../scripts/lib/supervisor.ts';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type LogLine, type ServiceProcess } from '../support/processes.ts';

const QUEUE_PREFIX = `test-start-${process.pid}`;
const processes: ServiceProcess[] = [];

let modelDir: string;

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  await Promise.all(processes.map((service) => service.stop('SIGKILL')));
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', QUEUE_PREFIX);
});

function start(env: Record<string, string>): ServiceProcess {
  const service = spawnService({ entry: 'scripts/start.ts', env: { PORT: '0', QUEUE_PREFIX, INTRA_OP_THREADS: '1', ...env } });
  processes.push(service);
  return service;
}

const isWorkerReady = (line: LogLine) => line.msg === 'worker ready';

test('restart delays double from the initial delay up to the cap', () => {
  const backoff = { initialMs: 1_000, maxMs: 5_000, stableMs: 60_000 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => restartDelay(backoff, n)), [1_000, 2_000, 4_000, 5_000, 5_000]);
});

test('npm start runs the API and a worker, restarts a killed worker, and stops cleanly on SIGTERM', async () => {
  const service = start({ MODEL_DIR: modelDir });
  await service.waitForLine((line) => line.msg === 'api listening', 60_000);
  const firstReady = await service.waitForLine(isWorkerReady, 60_000);
  const started = service.lines.find((line) => line.msg === 'worker started');
  assert.ok(started, 'the supervisor logs the worker pid');
  assert.equal(started.pid, firstReady.pid);

  process.kill(Number(started.pid), 'SIGKILL');
  const restarting = await service.waitForLine((line) => line.child === 'worker' && /restarting/.test(String(line.msg)));
  assert.equal(restarting.signal, 'SIGKILL');
  assert.ok(Number(restarting.delayMs) > 0);
  const secondReady = await service.waitForLine((line) => isWorkerReady(line) && line.pid !== firstReady.pid, 60_000);
  assert.notEqual(secondReady.workerId, firstReady.workerId);

  assert.equal(await service.stop('SIGTERM'), 0);
  assert.ok(service.lines.some((line) => line.msg === 'worker stopped'), 'the worker closed gracefully');
  assert.ok(service.lines.some((line) => line.msg === 'service stopped'));
});

test('npm start without a model fails at once and names the fixes', async () => {
  const service = start({ MODEL_DIR: '/nonexistent/rerank-model' });
  assert.equal(await service.waitForExit(15_000), 1);
  const fatal = service.lines.find((line) => line.level === 60);
  assert.ok(fatal, service.rawOutput.join('\n'));
  assert.match(String(fatal.msg), /\/nonexistent\/rerank-model/);
  assert.match(String(fatal.msg), /npm run model:fetch/);
  assert.match(String(fatal.msg), /npm run demo/);
  assert.ok(!service.lines.some((line) => line.msg === 'worker started'), 'nothing was started');
});
