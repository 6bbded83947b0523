/**
 * callback_url of bulk jobs end to end: a real API and worker on the shared Redis (unique prefix), the tiny model,
 * small chunks, and a receiver that is a local HTTP server on 127.0.0.1. A completed, a cancelled and a failed job
 * each reach the receiver once, signed; refused URLs are 400s; a second API without WEBHOOK_ALLOWED_HOSTS refuses
 * them all.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createBulkRecord } from '../../shared/bulk/store.ts';
import { BULK_QUEUE_NAME } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-bulk-webhooks-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const SECRET = `whsec-${randomUUID()}`;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  /** JSON of many shapes, asserted field by field. */
  body: any;
}

const received: Received[] = [];
let receiver: Server;
let hookBase: string;
let api: ServiceProcess;
let bareApi: ServiceProcess;
let worker: ServiceProcess;
let base: string;
let bareBase: string;

async function call(
  root: string,
  path: string,
  init: { method?: string; body?: unknown; ndjson?: unknown[]; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const json = init.body !== undefined;
  const ndjson = init.ndjson?.map((line) => JSON.stringify(line)).join('\n');
  const response = await fetch(`${root}${path}`, {
    method: init.method ?? (json || ndjson ? 'POST' : 'GET'),
    headers: {
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(ndjson ? { 'content-type': 'application/x-ndjson' } : {}),
      ...init.headers,
    },
    body: json ? JSON.stringify(init.body) : ndjson,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const docs = (count: number) => Array.from({ length: count }, (_, i) => `river stone maple ${i}`);
const at = (path: string) => received.filter((request) => request.path === path);

/** Polls GET /jobs/:id until the job's webhook has an outcome other than pending. */
async function untilWebhookSettled(jobId: string): Promise<any> {
  return pollUntil(`webhook of ${jobId} settled`, async () => {
    const reply = await call(base, `/jobs/${jobId}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const state = reply.body.webhook?.state;
    return state === undefined || state === 'pending' ? undefined : reply.body;
  }, 20_000);
}

/** The one POST the receiver got at `path`: its JSON body, after checking the signature independently. */
function signedPayload(path: string): { job_id: string; status: string; finished_at: string } {
  const requests = at(path);
  assert.equal(requests.length, 1, `one POST at ${path}`);
  const [request] = requests as [Received];
  const match = String(request.headers['x-rerank-signature']).match(/^t=(\d+),v1=([0-9a-f]{64})$/);
  assert.ok(match, `signature header: ${String(request.headers['x-rerank-signature'])}`);
  const [, timestamp, signature] = match;
  assert.equal(signature, createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex'));
  return JSON.parse(request.body);
}

before(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ path: request.url ?? '', headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const env = {
    REDIS_URL,
    QUEUE_PREFIX: PREFIX,
    MODEL_DIR: await ensureTestModel('tiny'),
    BULK_CHUNK_DOCUMENTS: '10',
    BULK_WORKER_CONCURRENCY: '1',
    INTRA_OP_THREADS: '1',
  };
  const webhooks = { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF_MS: '50' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, ...webhooks, PORT: '0' } });
  bareApi = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0' } });
  worker = spawnService({ entry: 'worker/main.ts', env: { ...env, ...webhooks } });
  const [listening, bareListening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    bareApi.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
  bareBase = `http://127.0.0.1:${String(bareListening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop(), bareApi?.stop()]);
  receiver?.closeAllConnections();
  receiver?.close();
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('a completed job POSTs {job_id, status, finished_at} once, signed; its status shows it delivered', async () => {
  const path = '/hooks/completed';
  const body = { query: 'maple', documents: docs(30), callback_url: `${hookBase}${path}` };
  const accepted = await call(base, '/jobs', { body });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = accepted.body.job_id;
  const job = await untilWebhookSettled(id);
  assert.equal(job.status, 'completed');
  const { delivered_at } = job.webhook;
  assert.deepEqual(job.webhook, { state: 'delivered', attempts: 1, last_status: 204, delivered_at });
  assert.deepEqual(signedPayload(path), { job_id: id, status: 'completed', finished_at: job.finished_at });
});

test('a cancelled job (callback_url in the NDJSON header line) POSTs status "cancelled" once', async () => {
  const path = '/hooks/cancelled';
  const ndjson = [{ query: 'stone', callback_url: `${hookBase}${path}` }, ...docs(3_000)];
  const accepted = await call(base, '/jobs', { ndjson });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = accepted.body.job_id;
  const cancelled = await call(base, `/jobs/${id}`, { method: 'DELETE' });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.status, 'cancelled');
  const job = await untilWebhookSettled(id);
  assert.equal(job.webhook.state, 'delivered');
  assert.deepEqual(signedPayload(path), { job_id: id, status: 'cancelled', finished_at: job.finished_at });
});

test('a job that fails (a chunk the worker cannot score) POSTs status "failed" once', async () => {
  // No body the API accepts makes a chunk fail, so the job is made as the API makes it, with one malformed chunk.
  const path = '/hooks/failed';
  const id = `bj-${randomUUID().replaceAll('-', '')}`;
  const prefix = `{${PREFIX}}`;
  const redis = new Redis(REDIS_URL);
  const queue = new Queue(BULK_QUEUE_NAME, { connection: redis, prefix });
  try {
    const record = { id, form: 'query' as const, name: 'broken', total: 1, chunks: 1, raw: false, owner: 'open' };
    await createBulkRecord(redis, prefix, { ...record, callbackUrl: `${hookBase}${path}` });
    await queue.add('broken', { bulkId: id, chunk: 0, segments: [] }, { jobId: `${id}-0` });
    const job = await untilWebhookSettled(id);
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'INVALID_JOB_DATA');
    assert.deepEqual(signedPayload(path), { job_id: id, status: 'failed', finished_at: job.finished_at });
  } finally {
    await queue.close();
    redis.disconnect();
  }
});

test('a job without callback_url reports no webhook', async () => {
  const accepted = await call(base, '/jobs', { body: { query: 'river', documents: docs(5) } });
  const job = await pollUntil('job completed', async () => {
    const reply = await call(base, `/jobs/${accepted.body.job_id}`);
    return reply.body.status === 'completed' ? reply.body : undefined;
  });
  assert.equal(job.webhook, undefined);
});

test('callback_url is part of the Idempotency-Key comparison', async () => {
  const body = { query: 'maple', documents: docs(5), callback_url: `${hookBase}/hooks/idempotent` };
  const headers = { 'idempotency-key': `key-${randomUUID()}` };
  const first = await call(base, '/jobs', { body, headers });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal((await call(base, '/jobs', { body, headers })).body.job_id, first.body.job_id);
  const other = await call(base, '/jobs', { body: { ...body, callback_url: `${hookBase}/hooks/other` }, headers });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
});

test('a callback_url outside WEBHOOK_ALLOWED_HOSTS, or not a URL, is a 400 in every body form', async () => {
  const outside = 'http://192.0.2.1/hook';
  const bodies = [
    { body: { query: 'q', documents: ['a'], callback_url: outside } },
    { body: { requests: [{ query: 'q', documents: ['a'] }], callback_url: outside } },
    { ndjson: [{ query: 'q', callback_url: outside }, 'a'] },
  ];
  for (const init of bodies) {
    const reply = await call(base, '/jobs', init);
    assert.equal(reply.status, 400, JSON.stringify(reply.body));
    assert.equal(reply.body.error.code, 'CALLBACK_NOT_ALLOWED');
    assert.deepEqual(reply.body.error.details, { field: 'callback_url' });
    assert.match(reply.body.error.message, /192\.0\.2\.1 is not in this server's WEBHOOK_ALLOWED_HOSTS/);
  }
  const ftp = { query: 'q', documents: ['a'], callback_url: 'ftp://127.0.0.1/x' };
  const invalid = await call(base, '/jobs', { body: ftp });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.code, 'INVALID_CALLBACK_URL');
});

test('without WEBHOOK_ALLOWED_HOSTS, callback_url is refused with a 400 that says why', async () => {
  const body = { query: 'q', documents: ['a'], callback_url: `${hookBase}/hooks/never` };
  const reply = await call(bareBase, '/jobs', { body });
  assert.equal(reply.status, 400, JSON.stringify(reply.body));
  assert.equal(reply.body.error.code, 'CALLBACK_NOT_ALLOWED');
  assert.match(reply.body.error.message, /WEBHOOK_ALLOWED_HOSTS is not set/);
  assert.equal(at('/hooks/never').length, 0);
});
