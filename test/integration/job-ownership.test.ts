/**
 * Private jobs end to end: real API and worker processes on the shared Redis (unique prefix), the tiny generated
 * model. One API with two API keys, one open API on the same queue. A 202's token is per request, random and
 * the caller's only; another key's identical body neither sees nor reuses it; bulk jobs and Idempotency-Keys
 * are per key; open mode works with tokens.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { findKey, keyId, parseApiKeys } from '../../api/auth/api-keys.ts';
import { jobIdFor } from '../../api/services/job-id.ts';
import { toJobData } from '../../api/services/rerank.ts';
import { loadConfig } from '../../shared/config.ts';
import { QUEUE_NAME } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-ownership-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const KEY_A = 'owner-a-key-0123456789abcdef';
const KEY_B = 'owner-b-key-0123456789abcdef';
const TOKEN = /^rq-[0-9a-f]{32}$/;
let modelDir: string;
let keyed: ServiceProcess;
let open: ServiceProcess;
let worker: ServiceProcess;
let keyedBase: string;
let openBase: string;

interface Reply {
  status: number;
  headers: Headers;
  /** JSON of many shapes, asserted field by field. */
  body: any;
}

type Caller = (path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }) => Promise<Reply>;

/** Calls as one client: the keyed API with `key`, or the open API without one. */
function caller(baseUrl: () => string, key?: string): Caller {
  return async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${baseUrl()}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
}

const asA = caller(() => keyedBase, KEY_A);
const asB = caller(() => keyedBase, KEY_B);
const asOpen = caller(() => openBase);
const ASYNC = { prefer: 'respond-async' };

async function untilCompleted(call: Caller, id: string): Promise<Reply> {
  return pollUntil(`job ${id} completed`, async () => {
    const reply = await call(`/jobs/${id}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.status === 'completed' ? reply : undefined;
  }, 30_000);
}

function assertNotFound(reply: Reply, what: string): void {
  assert.equal(reply.status, 404, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.error.code, 'JOB_NOT_FOUND', what);
}

before(async () => {
  modelDir = await ensureTestModel('tiny');
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'info', INTRA_OP_THREADS: '1' };
  // A has every scope, metrics included; B may rerank and read jobs only.
  keyed = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', API_KEYS: `${KEY_A},${KEY_B}:rerank+jobs` } });
  open = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0' } });
  worker = spawnService({ entry: 'worker/main.ts', env });
  const [a, b] = await Promise.all([
    keyed.waitForLine((line) => line.msg === 'api listening'),
    open.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  keyedBase = `http://127.0.0.1:${String(a.port)}`;
  openBase = `http://127.0.0.1:${String(b.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), keyed?.stop(), open?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test("a 202's token is random per request, not the content hash, and shows the job to its key only", async () => {
  const body = { query: 'whose job is this', documents: ['first document', 'second one', 'third'], top_k: 2 };
  const first = await asA('/rerank', { body, headers: ASYNC });
  const second = await asA('/rerank', { body, headers: ASYNC });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.match(first.body.job_id, TOKEN);
  assert.match(second.body.job_id, TOKEN);
  assert.notEqual(first.body.job_id, second.body.job_id, 'identical requests get tokens of their own');
  assert.equal(first.body.status_url, `/jobs/${first.body.job_id}`);
  assert.equal(first.headers.get('location'), first.body.status_url);

  // Both tokens lead to one internal job, whose content-hash id appears nowhere in the answers.
  const config = loadConfig({ MODEL_DIR: modelDir });
  const owner = keyId(findKey(parseApiKeys(KEY_A), KEY_A)!);
  const hash = jobIdFor(toJobData(body, config, { model: config.MODEL_NAME, maxLength: config.MAX_SEQ_LENGTH }), owner);
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
  try {
    assert.ok(await queue.getJob(hash), 'the shared job exists under its content-hash id');
  } finally {
    await queue.close();
  }
  for (const reply of [first, second]) {
    assert.ok(!JSON.stringify(reply.body).includes(hash.slice(3)), 'the 202 holds no content hash');
  }

  const done = await untilCompleted(asA, first.body.job_id);
  assert.equal(done.body.job_id, first.body.job_id);
  assert.equal(done.body.result.rankings.length, 2, "the request's top_k is remembered with its token");
  assert.ok(!JSON.stringify(done.body).includes(hash.slice(3)));
  assert.deepEqual((await untilCompleted(asA, second.body.job_id)).body.result, done.body.result);
  assert.equal((await asA(`/jobs/${first.body.job_id}?top_k=1`)).body.result.rankings.length, 1, 'top_k in the URL wins');
  const page = await asA(`/jobs/${first.body.job_id}/result`);
  assert.equal(page.status, 200);
  assert.equal(page.body.job_id, first.body.job_id);
  assert.equal(page.body.total, 2, "the result's pages follow the token's top_k too");

  const token = first.body.job_id;
  assertNotFound(await asB(`/jobs/${token}`), 'GET by another key');
  assertNotFound(await asB(`/jobs/${token}/result`), 'result by another key');
  assertNotFound(await asB(`/jobs/${token}`, { method: 'DELETE' }), 'DELETE by another key');
  assertNotFound(await asOpen(`/jobs/${token}`), 'GET through the open API');
  assert.equal((await asA(`/jobs/${token}`, { method: 'DELETE' })).body.error.code, 'JOB_NOT_CANCELLABLE');
  assert.equal((await asA(`/jobs/${hash}`)).status, 400, 'content-hash ids are not accepted from clients');
});

test("another key's identical body is not answered from the first key's result", async () => {
  const body = { query: 'did someone send this before', documents: ['alpha', 'beta'] };
  const fromA = await asA('/rerank', { body, headers: ASYNC });
  await untilCompleted(asA, fromA.body.job_id);
  const againA = await asA('/rerank', { body, headers: ASYNC });
  assert.equal(againA.body.status, 'completed', "a key's own retained result is reused at once");

  const fromB = await asB('/rerank', { body, headers: ASYNC });
  assert.equal(fromB.status, 202, JSON.stringify(fromB.body));
  assert.notEqual(fromB.body.status, 'completed', "B must not learn that A sent the same body");
  const doneB = await untilCompleted(asB, fromB.body.job_id);
  const doneA = await asA(`/jobs/${fromA.body.job_id}`);
  assert.deepEqual(doneB.body.result, doneA.body.result, 'the same scores, computed for each key');
  assertNotFound(await asA(`/jobs/${fromB.body.job_id}`), "A cannot read B's token either");
});

test("a bulk job is invisible to another key: GET, result and DELETE are 404", async () => {
  const accepted = await asA('/jobs', { body: { query: 'bulk of a', documents: ['one', 'two', 'three', 'four'] } });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = accepted.body.job_id;
  assertNotFound(await asB(`/jobs/${id}`), 'bulk GET by another key');
  assertNotFound(await asB(`/jobs/${id}`, { method: 'DELETE' }), 'bulk DELETE by another key');
  assertNotFound(await asOpen(`/jobs/${id}`), 'bulk GET through the open API');
  const done = await untilCompleted(asA, id);
  assert.equal(done.body.progress.done, 4);
  assertNotFound(await asB(`/jobs/${id}/result`), 'bulk result by another key');
  assert.equal((await asA(`/jobs/${id}/result`)).status, 200);
  assert.equal((await asA(`/jobs/${id}`)).status, 200, "B's DELETE left A's job alone");
  assert.equal((await asA(`/jobs/${id}`, { method: 'DELETE' })).status, 204);
});

test('worker ids (hostname-pid) only for a key with the metrics scope; others see opaque labels', async () => {
  const body = { query: 'where did it run', documents: ['five', 'six'] };
  const ofA = await asA('/jobs', { body });
  const ofB = await asB('/jobs', { body });
  const [doneA, doneB] = await Promise.all([untilCompleted(asA, ofA.body.job_id), untilCompleted(asB, ofB.body.job_id)]);
  assert.ok(doneA.body.workers[0].worker_id.endsWith(`-${worker.child.pid}`), JSON.stringify(doneA.body.workers));
  assert.deepEqual(doneB.body.workers, [{ worker_id: 'worker-1', chunks: 1 }]);
  assert.ok(!JSON.stringify(doneB.body).includes(String(worker.child.pid)));
});

test('Idempotency-Key is per key: the same key string from two API keys makes two jobs', async () => {
  const key = `idem-${randomUUID()}`;
  const body = { query: 'idempotent', documents: ['x', 'y'] };
  const a1 = await asA('/jobs', { body, headers: { 'idempotency-key': key } });
  const a2 = await asA('/jobs', { body, headers: { 'idempotency-key': key } });
  const b1 = await asB('/jobs', { body, headers: { 'idempotency-key': key } });
  assert.equal(a1.status, 202);
  assert.equal(a2.body.job_id, a1.body.job_id, "A's retry returns A's job");
  assert.equal(b1.status, 202, JSON.stringify(b1.body));
  assert.notEqual(b1.body.job_id, a1.body.job_id, 'B gets a job of its own');
  const other = await asB('/jobs', { body: { ...body, query: 'another body' }, headers: { 'idempotency-key': `${key}-b` } });
  assert.equal(other.status, 202);
  const reused = await asA('/jobs', { body: { ...body, query: 'another body' }, headers: { 'idempotency-key': `${key}-b` } });
  assert.equal(reused.status, 202, "B's keys do not collide with A's");
  assert.notEqual(reused.body.job_id, other.body.job_id);
  assert.equal((await asA('/jobs', { body: { ...body, query: 'changed' }, headers: { 'idempotency-key': key } })).status, 409);
});

test('open mode: tokens and bulk jobs work end to end without keys', async () => {
  const accepted = await asOpen('/rerank', { body: { query: 'open mode', documents: ['a', 'b'] }, headers: ASYNC });
  assert.equal(accepted.status, 202);
  assert.match(accepted.body.job_id, TOKEN);
  const done = await untilCompleted(asOpen, accepted.body.job_id);
  assert.equal(done.body.result.rankings.length, 2);
  assert.equal((await asOpen(`/jobs/${accepted.body.job_id}/result`)).status, 200);
  assertNotFound(await asA(`/jobs/${accepted.body.job_id}`), 'an open-mode token through the keyed API');
  const bulk = await asOpen('/jobs', { body: { query: 'open bulk', documents: ['c', 'd'] } });
  assert.equal(bulk.status, 202);
  await untilCompleted(asOpen, bulk.body.job_id);
});
