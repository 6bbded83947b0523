/**
 * Webhook delivery end to end: enqueueWebhook on real Redis (unique prefix), a real worker process consuming the
 * `webhooks` queue, and receivers that are local HTTP servers on 127.0.0.1. Each case uses its own job id and path,
 * so the cases do not depend on each other's order.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../../shared/config.ts';
import { keyPrefix } from '../../shared/queue.ts';
import type { WebhookOutcome } from '../../shared/schemas/webhook.ts';
import {
  createWebhookQueue,
  enqueueWebhook,
  readWebhookOutcome,
  type WebhookJobData,
  type WebhookQueue,
  type WebhookTarget,
} from '../../shared/webhook-queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-webhooks-${randomUUID().slice(0, 8)}`;
const IDLE_PREFIX = `${PREFIX}-idle`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const SECRET = `whsec-${randomUUID()}`;
const ATTEMPTS = 3;
// Long enough that a loaded machine's first answer never looks like a timeout; the timeout test waits it out.
const TIMEOUT_MS = 2_000;
const settings = {
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_ATTEMPTS: String(ATTEMPTS),
  WEBHOOK_BACKOFF_MS: '50',
  WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
};
const config = loadConfig(settings);

interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1: records every request; `answer` decides the response from the path and how many came. */
class Receiver {
  readonly requests: Received[] = [];
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  constructor(private readonly answer: (path: string, seen: number, response: ServerResponse) => void) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        this.requests.push({ path, method: request.method ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        this.hanging.add(response);
        response.on('close', () => this.hanging.delete(response));
        this.answer(path, this.requests.filter((seen) => seen.path === path).length, response);
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  at(path: string): Received[] {
    return this.requests.filter((request) => request.path === path);
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

let worker: ServiceProcess;
let redis: Redis;
let queue: WebhookQueue;
let target: WebhookTarget;
let receiver: Receiver;
let other: Receiver;
let base: string;
let otherBase: string;

before(async () => {
  other = new Receiver((_path, _seen, response) => response.end('stolen'));
  otherBase = await other.listen();
  receiver = new Receiver((path, seen, response) => {
    if (path.startsWith('/ok')) return response.writeHead(204).end();
    if (path.startsWith('/flaky')) return response.writeHead(seen === 1 ? 503 : 200).end('ok');
    // Another origin (same address, another port): a followed redirect would reach it.
    if (path.startsWith('/redirect')) return response.writeHead(302, { location: `${otherBase}/stolen` }).end();
    if (path.startsWith('/gone')) return response.writeHead(410).end();
    if (path.startsWith('/slow')) return; // never answers
    response.writeHead(404).end();
  });
  base = await receiver.listen();
  redis = new Redis(REDIS_URL);
  queue = createWebhookQueue(config, { url: REDIS_URL });
  target = { queue, redis, config };
  worker = spawnService({ entry: 'worker/main.ts', env: { ...settings, MODEL_DIR: await ensureTestModel('tiny') } });
  await worker.waitForLine((line) => line.msg === 'worker ready', 60_000);
});

after(async () => {
  await worker?.stop();
  await queue?.close();
  await Promise.all([receiver?.close(), other?.close()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
  await deleteKeysWithPrefix(REDIS_URL, IDLE_PREFIX);
  redis?.disconnect();
});

function delivery(path: string, status: WebhookJobData['status'] = 'completed'): WebhookJobData {
  return { jobId: `job-${randomUUID()}`, status, finishedAt: new Date().toISOString(), url: `${base}${path}` };
}

/** Enqueues and waits until the outcome is final (delivered or failed). */
async function deliver(data: WebhookJobData): Promise<WebhookOutcome> {
  await enqueueWebhook(target, data);
  return pollUntil(`the webhook of ${data.jobId} to finish`, async () => {
    const outcome = await readWebhookOutcome(redis, keyPrefix(config), data.jobId);
    return outcome && outcome.state !== 'pending' ? outcome : undefined;
  }, 20_000);
}

test('a webhook is POSTed once with the exact JSON body and a valid HMAC-SHA256 signature', async () => {
  const data = delivery('/ok/signed');
  const outcome = await deliver(data);
  assert.equal(outcome.state, 'delivered');
  assert.equal(outcome.attempts, 1);
  assert.equal(outcome.last_status, 204);
  assert.equal(outcome.last_error, undefined);
  assert.ok(Math.abs(Date.parse(outcome.delivered_at ?? '') - Date.now()) < 60_000);

  const [request, ...more] = receiver.at('/ok/signed');
  assert.ok(request);
  assert.equal(more.length, 0);
  assert.equal(request.method, 'POST');
  assert.equal(request.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(request.body), { job_id: data.jobId, status: 'completed', finished_at: data.finishedAt });

  // The receiver's side, computed here independently: t=<seconds>,v1=<hex HMAC of "<t>.<raw body>">.
  const match = String(request.headers['x-rerank-signature']).match(/^t=(\d+),v1=([0-9a-f]{64})$/);
  assert.ok(match, `signature header: ${String(request.headers['x-rerank-signature'])}`);
  const [, timestamp, signature] = match;
  const expected = createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex');
  assert.equal(signature, expected);
  assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, 'a fresh timestamp');
  const forged = createHmac('sha256', 'another secret').update(`${timestamp}.${request.body}`).digest('hex');
  assert.notEqual(signature, forged);
});

test('a 503 is retried with backoff, then the delivery succeeds', async () => {
  const data = delivery('/flaky/once', 'failed');
  const outcome = await deliver(data);
  assert.deepEqual({ ...outcome, delivered_at: undefined }, { state: 'delivered', attempts: 2, last_status: 200, delivered_at: undefined });
  const requests = receiver.at('/flaky/once');
  assert.equal(requests.length, 2);
  assert.equal(requests[0]?.body, requests[1]?.body, 'the same body each attempt');
});

test('a redirect is never followed: the other origin receives nothing, and the delivery fails after its attempts', async () => {
  const data = delivery('/redirect/elsewhere', 'cancelled');
  const outcome = await deliver(data);
  assert.equal(outcome.state, 'failed');
  assert.equal(outcome.attempts, ATTEMPTS);
  assert.equal(outcome.last_status, 302);
  assert.match(outcome.last_error ?? '', /redirect \(302\) not followed/);
  assert.equal(receiver.at('/redirect/elsewhere').length, ATTEMPTS);
  assert.equal(other.requests.length, 0);

  const job = await queue.getJob(`webhook-${data.jobId}`);
  assert.equal(job?.failedReason, 'WEBHOOK_DELIVERY_FAILED: redirect (302) not followed');
  assert.deepEqual(job?.stacktrace, []);
});

test('a 4xx other than 429 is not retried', async () => {
  const outcome = await deliver(delivery('/gone/now'));
  assert.deepEqual(outcome, { state: 'failed', attempts: 1, last_status: 410, last_error: 'the receiver answered 410' });
  assert.equal(receiver.at('/gone/now').length, 1);
});

test('an attempt that gets no answer times out and is retried', async () => {
  const outcome = await deliver(delivery('/slow/never'));
  assert.deepEqual(outcome, { state: 'failed', attempts: ATTEMPTS, last_error: `no answer within ${TIMEOUT_MS} ms` });
  assert.equal(receiver.at('/slow/never').length, ATTEMPTS);
});

test('the worker checks the allow list again: a host outside it is never called', async () => {
  const data = { ...delivery('/ok/unlisted'), url: `${base.replace('127.0.0.1', 'localhost')}/ok/unlisted` };
  const outcome = await deliver(data);
  assert.equal(outcome.state, 'failed');
  assert.equal(outcome.attempts, 1);
  assert.match(outcome.last_error ?? '', /localhost:\d+ is not in this server's WEBHOOK_ALLOWED_HOSTS/);
  assert.equal(receiver.at('/ok/unlisted').length, 0);
});

test('the outcome is pending as soon as the webhook is queued, and enqueueing twice queues one delivery', async () => {
  // A prefix no worker consumes, so the webhook stays queued.
  const idleConfig = loadConfig({ ...settings, QUEUE_PREFIX: IDLE_PREFIX });
  const idleQueue = createWebhookQueue(idleConfig, { url: REDIS_URL });
  try {
    const data = delivery('/ok/idle');
    await enqueueWebhook({ queue: idleQueue, redis, config: idleConfig }, data);
    await enqueueWebhook({ queue: idleQueue, redis, config: idleConfig }, data);
    assert.deepEqual(await readWebhookOutcome(redis, keyPrefix(idleConfig), data.jobId), { state: 'pending', attempts: 0 });
    assert.equal((await idleQueue.getJobCounts('waiting')).waiting, 1);
    assert.equal(await readWebhookOutcome(redis, keyPrefix(idleConfig), 'job-without-webhook'), undefined);
  } finally {
    await idleQueue.close();
  }
});

test('enqueueing again after delivery keeps the outcome and does not notify twice', async () => {
  const data = delivery('/ok/twice');
  const first = await deliver(data);
  await enqueueWebhook(target, data);
  assert.deepEqual(await readWebhookOutcome(redis, keyPrefix(config), data.jobId), first);
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
  assert.deepEqual(counts, { waiting: 0, active: 0, delayed: 0 });
  assert.equal(receiver.at('/ok/twice').length, 1);
});
