/**
 * A signal to the process a user started stops the whole service: `npm start` and `npm run demo` run as real
 * `npm` processes, and the test signals the npm process itself (what a process manager does). Afterwards the port
 * no longer answers and none of the processes the supervisor started is left. Run at LOG_LEVEL=warn (the
 * minimal profile's level): the start and stop lines must show anyway.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { freePort } from '../../scripts/lib/free-port.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { isAlive, spawnNpm, type LogLine, type ServiceProcess } from '../support/processes.ts';

const QUEUE_PREFIX = `test-start-signals-${process.pid}`;
const STOP_DEADLINE_MS = 20_000;
const started: { npm: ServiceProcess; pids: number[] }[] = [];

let modelDir: string;

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  for (const { npm, pids } of started) {
    for (const pid of pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
    await npm.stop('SIGKILL');
  }
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', QUEUE_PREFIX);
});

interface RunningService {
  npm: ServiceProcess;
  port: number;
  supervisorPid: number;
  apiPid: number;
  workerPid: number;
  pids: number[];
}

const childPid = (npm: ServiceProcess, name: string) =>
  Number(npm.lines.find((line) => line.msg === `${name} started`)?.pid);

/** `npm <args>` up and serving: the API listening, the worker ready; with the pids of everything it started. */
async function startNpm(args: string[], env: Record<string, string> = {}): Promise<RunningService> {
  const port = await freePort();
  const npm = spawnNpm(args, {
    PORT: String(port),
    QUEUE_PREFIX,
    INTRA_OP_THREADS: '1',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const entry = { npm, pids: [] as number[] };
  started.push(entry);
  await npm.waitForLine((line) => line.msg === 'api listening', 90_000);
  await npm.waitForLine((line) => line.msg === 'worker ready', 90_000);
  // npm runs the script with `exec`, so the supervisor is npm's own child.
  const supervisorPid = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(npm.child.pid)], { encoding: 'utf8' }).trim());
  const apiPid = childPid(npm, 'api');
  const workerPid = childPid(npm, 'worker');
  entry.pids.push(supervisorPid, apiPid, workerPid);
  assert.ok(entry.pids.every((pid) => Number.isInteger(pid) && pid > 0 && isAlive(pid)), JSON.stringify(entry.pids));
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  return { npm, port, supervisorPid, apiPid, workerPid, pids: entry.pids };
}

async function portAnswers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/** Within the deadline: nothing answers on the port and none of the pids is alive. */
async function assertAllGone(service: RunningService): Promise<void> {
  await pollUntil(
    `pids ${service.pids.join(', ')} to exit`,
    async () => (service.pids.some(isAlive) ? undefined : true),
    STOP_DEADLINE_MS,
  );
  assert.equal(await portAnswers(service.port), false, `port ${service.port} still answers`);
}

const logged = (npm: ServiceProcess, msg: string, pid?: number) =>
  npm.lines.some((line: LogLine) => line.msg === msg && (pid === undefined || line.pid === pid));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to the npm process of \`npm start\` stops the supervisor, the API and the worker cleanly`, async () => {
    const service = await startNpm(['start'], { MODEL_DIR: modelDir });
    service.npm.child.kill(signal);
    await assertAllGone(service);
    const { npm } = service;
    // The lifecycle lines show at warn; other info lines stay filtered out.
    const lifecycle = ['api started', 'worker started', 'api listening', 'worker ready', 'stopping the service'];
    for (const msg of [...lifecycle, 'api closed', 'worker stopped']) assert.ok(logged(npm, msg), `"${msg}" logged`);
    assert.ok(!logged(npm, 'redis connected'));
    assert.ok(npm.lines.some((line) => line.msg === 'service stopped' && line.code === 0), 'a clean stop');
  });
}

test('SIGTERM to the npm process of `npm run demo` stops the whole demo', async () => {
  const service = await startNpm(['run', 'demo']);
  service.npm.child.kill('SIGTERM');
  await assertAllGone(service);
  assert.ok(logged(service.npm, 'service stopped'));
});

test('npm killed outright (SIGKILL): the supervisor notices its parent is gone and stops the service', async () => {
  const service = await startNpm(['start'], { MODEL_DIR: modelDir });
  service.npm.child.kill('SIGKILL');
  await assertAllGone(service);
});

test('the supervisor killed outright (SIGKILL): the API and the worker notice and stop', async () => {
  const service = await startNpm(['start'], { MODEL_DIR: modelDir });
  process.kill(service.supervisorPid, 'SIGKILL');
  await assertAllGone(service);
});
