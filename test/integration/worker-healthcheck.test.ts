/**
 * The worker image's HEALTHCHECK command, taken from Dockerfile.worker and run as Docker would, against a real
 * worker process with WORKER_HEALTH_FILE set: healthy once the worker reports, unhealthy while Redis is away (no
 * report is published, so the file ages), healthy again when Redis is back, unhealthy once the worker has stopped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execForm, instructions, parseDockerfile } from '../support/dockerfile.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { REPO_ROOT, spawnService, type ServiceProcess } from '../support/processes.ts';

const HEARTBEAT_MS = 300;
const stages = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile.worker'), 'utf8'));
const command = execForm(instructions(stages.at(-1)!, 'HEALTHCHECK')[0]!.args)!;

let dir: string;
let healthFile: string;
let redis: PrivateRedis;
let worker: ServiceProcess | undefined;

/** Runs the HEALTHCHECK command with the container's relevant environment. */
async function probe(): Promise<{ code: number; output: string }> {
  const env = { WORKER_HEALTH_FILE: healthFile, WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS) };
  const child = spawn(process.execPath, command.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number, output };
}

const probeUntil = (what: string, code: number) =>
  pollUntil(what, async () => {
    const result = await probe();
    return result.code === code ? result : undefined;
  });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'worker-health-'));
  healthFile = join(dir, 'health');
  redis = await PrivateRedis.start();
});

after(async () => {
  await worker?.stop('SIGKILL');
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('the probe passes on a fresh file and fails, saying why, on an old or missing one', async () => {
  await writeFile(healthFile, 'now\n');
  assert.equal((await probe()).code, 0);
  const old = new Date(Date.now() - 10 * HEARTBEAT_MS);
  await utimes(healthFile, old, old);
  const stale = await probe();
  assert.equal(stale.code, 1);
  assert.match(stale.output, /^last report published \d+ ms ago/);
  await rm(healthFile);
  const missing = await probe();
  assert.equal(missing.code, 1);
  assert.match(missing.output, /^no report published yet/);
});

test('healthy while the worker reports, unhealthy while Redis is away, healthy again, unhealthy once stopped', async () => {
  await writeFile(healthFile, 'left by a previous run\n');
  worker = spawnService({
    entry: 'worker/main.ts',
    env: {
      REDIS_URL: redis.url,
      MODEL_DIR: await ensureTestModel('tiny'),
      INTRA_OP_THREADS: '1',
      WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS),
      WORKER_HEALTH_FILE: healthFile,
    },
  });
  await worker.waitForLine((line) => line.msg === 'worker ready');
  assert.equal((await probe()).code, 0);
  assert.notEqual(readFileSync(healthFile, 'utf8'), 'left by a previous run\n', 'rewritten by this worker');

  await redis.stop();
  await probeUntil('unhealthy without Redis', 1);
  await redis.start();
  await probeUntil('healthy again with Redis', 0);

  assert.equal(await worker.stop('SIGTERM'), 0);
  assert.match((await probe()).output, /^no report published yet/, 'a stopped worker removes its file');
});
