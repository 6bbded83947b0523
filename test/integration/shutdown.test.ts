/**
 * Clean stops with real processes on the shared Redis: the API answers what it holds and refuses what arrives
 * while it closes (503 SHUTTING_DOWN with Retry-After, not a reset); a worker whose job outlasts
 * SHUTDOWN_GRACE_MS hands it back to the queue, exits 0, and another worker runs it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { STOP_MARGIN_MS } from '../../scripts/lib/supervisor.ts';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-shutdown-${process.pid}`;
const PREFIX = `{${QUEUE_PREFIX}}`;
const connection = { host: '127.0.0.1', port: 6379 };

let modelDir: string;
const spawned: ServiceProcess[] = [];

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  await Promise.all(spawned.map((service) => service.stop('SIGKILL')));
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

function start(entry: string, env: Record<string, string> = {}): ServiceProcess {
  const service = spawnService({
    entry,
    env: { REDIS_URL, QUEUE_PREFIX, MODEL_DIR: modelDir, MODEL_NAME: 'tiny', INTRA_OP_THREADS: '1', PORT: '0', ...env },
  });
  spawned.push(service);
  return service;
}

/** A raw HTTP/1.1 connection: what it receives, and when the server closed it. */
async function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const state = { received: '' };
  socket.on('data', (chunk) => (state.received += chunk.toString()));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  return { socket, state, closed };
}

const requestHead = (length: number, extra = '') =>
  `POST /rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

test('API SIGTERM: the request being received gets its answer, one arriving during the close 503 SHUTTING_DOWN; exit 0', async () => {
  const api = start('api/main.ts');
  const port = Number((await api.waitForLine((line) => line.msg === 'api listening')).port);
  const body = JSON.stringify({ query: 'caught by shutdown', documents: ['a', 'b'] });
  const length = Buffer.byteLength(body);
  // B: a client in the middle of sending its request line when the API starts closing (so its connection is not
  // idle, and stays open); A: a request past the door (the server answered its headers with 100 Continue) whose
  // body is still on the way.
  const late = await rawConnection(port);
  late.socket.write('POST /rerank HTTP/1.1\r\n');
  const inFlight = await rawConnection(port);
  inFlight.socket.write(requestHead(length, 'Expect: 100-continue\r\n') + body.slice(0, 5));
  await pollUntil('100 Continue', async () => (inFlight.state.received.includes('100 Continue') ? true : undefined), 10_000);
  inFlight.state.received = '';
  api.child.kill('SIGTERM');
  await api.waitForLine((line) => line.msg === 'api closing');
  inFlight.socket.write(body.slice(5));
  late.socket.write(requestHead(length).slice('POST /rerank HTTP/1.1\r\n'.length) + body);
  await Promise.all([inFlight.closed, late.closed]);
  assert.equal(await api.waitForExit(15_000), 0);

  assert.match(inFlight.state.received, /^HTTP\/1\.1 202 /, 'the in-flight request is answered: its job carries on');
  assert.match(late.state.received, /^HTTP\/1\.1 503 /, late.state.received);
  assert.match(late.state.received, /\r\nretry-after: 1\r\n/i);
  assert.match(late.state.received, /"code":"SHUTTING_DOWN"/);
  assert.ok(api.lines.some((line) => line.msg === 'api closed'));
});

test('worker SIGTERM: a job that outlasts the grace is handed back (not failed), exit 0; another worker runs it', async () => {
  const queue = new Queue<RerankJobData, RerankJobResult>(QUEUE_NAME, { connection, prefix: PREFIX });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: PREFIX });
  try {
    await events.waitUntilReady();
    const first = start('worker/main.ts', { SHUTDOWN_GRACE_MS: '300' });
    await first.waitForLine((line) => line.msg === 'worker ready', 60_000);
    const jobId = 'long-job';
    const active = new Promise<void>((resolve) => events.on('active', ({ jobId: id }) => id === jobId && resolve()));
    const documents = Array.from({ length: 20_000 }, (_, i) => `passage ${i} about what red foxes eat in winter`);
    await queue.add(RERANK_JOB, { query: 'what do foxes eat', documents, raw: false, model: 'tiny', maxLength: 64 }, { jobId });
    await active;
    first.child.kill('SIGTERM');
    assert.equal(await first.waitForExit(20_000), 0);
    const handedBack = first.lines.find((line) => /handed back/.test(String(line.msg)));
    assert.deepEqual(handedBack?.handedBack, [jobId]);
    assert.equal(await queue.getJobState(jobId), 'waiting', 'back in the queue, neither failed nor completed');

    const second = start('worker/main.ts');
    const secondId = String((await second.waitForLine((line) => line.msg === 'worker ready', 60_000)).workerId);
    const done = await pollUntil('the job to complete on the second worker', async () => {
      const job = await queue.getJob(jobId);
      return job?.finishedOn ? job : undefined;
    }, 90_000);
    assert.equal(await done.getState(), 'completed');
    assert.equal(done.returnvalue.workerId, secondId);
    assert.equal(done.returnvalue.count, documents.length);
    assert.equal(done.stalledCounter, 0, 'handed back, not recovered as stalled');
    assert.deepEqual(done.stacktrace, [], 'no failed attempt');
    assert.equal(await second.stop(), 0, 'the next test must find no worker of ours');
  } finally {
    await events.close();
    await queue.close();
  }
});

test('npm start SIGTERM: the worker hands back what outlasts SHUTDOWN_GRACE_MS and the service exits 0', async () => {
  const queue = new Queue<RerankJobData, RerankJobResult>(QUEUE_NAME, { connection, prefix: PREFIX });
  try {
    const service = start('scripts/start.ts', { SHUTDOWN_GRACE_MS: '300' });
    await service.waitForLine((line) => line.msg === 'worker ready', 60_000);
    const jobId = 'long-job-under-npm-start';
    const documents = Array.from({ length: 20_000 }, (_, i) => `passage ${i} about what red foxes eat in winter`);
    await queue.add(RERANK_JOB, { query: 'what do foxes eat', documents, raw: false, model: 'tiny', maxLength: 64 }, { jobId });
    await pollUntil('the job to be active', async () => ((await queue.getJobState(jobId)) === 'active' ? true : undefined), 20_000);
    const signalledAt = Date.now();
    assert.equal(await service.stop('SIGTERM'), 0);
    assert.ok(Date.now() - signalledAt < 300 + STOP_MARGIN_MS, 'within the grace plus the margin');
    assert.ok(!service.lines.some((line) => /killing it/.test(String(line.msg))), 'nothing was killed');
    assert.equal(await queue.getJobState(jobId), 'waiting', 'handed back for the next worker');
  } finally {
    await queue.close();
  }
});
