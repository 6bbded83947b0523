/**
 * A port in use: `npm run start:api` and `npm start`, run as real npm processes against a port the test holds,
 * print one clear line (the address, that it is in use, PORT/HOST) instead of a stack trace, and exit non-zero.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnNpm, type ServiceProcess } from '../support/processes.ts';

const QUEUE_PREFIX = `test-port-in-use-${process.pid}`;
const processes: ServiceProcess[] = [];
let holder: Server;
let port: number;
let modelDir: string;

before(async () => {
  modelDir = await ensureTestModel('tiny');
  holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  port = (holder.address() as { port: number }).port;
});

after(async () => {
  await Promise.all(processes.map((service) => service.stop('SIGKILL')));
  holder.close();
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', QUEUE_PREFIX);
});

const MESSAGE = /^Cannot listen on 127\.0\.0\.1:(\d+): the address is already in use\. .*set PORT \(or HOST\)/;

async function runAgainstTakenPort(args: string[]): Promise<ServiceProcess> {
  const npm = spawnNpm(args, { PORT: String(port), QUEUE_PREFIX, MODEL_DIR: modelDir, INTRA_OP_THREADS: '1', LOG_LEVEL: 'warn' });
  processes.push(npm);
  const code = await npm.waitForExit(60_000);
  assert.notEqual(code, 0);
  const lines = npm.lines.filter((line) => MESSAGE.test(String(line.msg)));
  assert.equal(lines.length, 1, `one clear line; got:\n${npm.lines.map((line) => JSON.stringify(line)).join('\n')}`);
  assert.equal(String(lines[0]?.msg).match(MESSAGE)?.[1], String(port));
  assert.equal(lines[0]?.level, 60);
  const output = [...npm.rawOutput, ...npm.lines.map((line) => JSON.stringify(line))].join('\n');
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  return npm;
}

test('npm run start:api on a port in use: one clear line, exit 1', async () => {
  await runAgainstTakenPort(['run', 'start:api']);
});

test('npm start on a port in use: the same line, the whole service stops with a non-zero exit', async () => {
  const npm = await runAgainstTakenPort(['start']);
  assert.ok(npm.lines.some((line) => line.msg === 'service stopped' && line.code === 1));
});
