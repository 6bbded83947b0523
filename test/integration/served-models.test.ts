/**
 * Several models behind one API, with real processes on the shared Redis (unique prefix): two generated models
 * (different seeds, so different weights) named alpha and beta, a worker for each (beta's with a shorter
 * MAX_SEQ_LENGTH than the API's), one API serving both. Each model's requests are scored by its own worker (the
 * scores equal that model's engine in-process), the job id follows the worker's max length, an unknown model is a
 * 400 in every dialect, a worker refuses another model's job, and /ready and /metrics show both models.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { jobIdFor } from '../../api/services/job-id.ts';
import { BULK_QUEUE_NAME, RERANK_JOB, parseFailure, type BulkChunkData } from '../../shared/queue.ts';
import { loadEngine } from '../../worker/engine/index.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-models-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const BETA_MAX_LENGTH = 16;
const QUERY = 'which animal eats fish';
/** The last one is longer than beta's window, so beta's max length changes its score. */
const DOCUMENTS = ['the cat eats fish', 'a dog barks', `${'the heron waits by the water for fish '.repeat(6)}and eats`];

const processes: ServiceProcess[] = [];
let base: string;
let modelDirs: { alpha: string; beta: string };

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function expectedScores(modelDir: string, maxLength: number): Promise<number[]> {
  const engine = await loadEngine({ modelDir, maxLength, intraOpThreads: 1 });
  try {
    return (await engine.score(QUERY, DOCUMENTS, { raw: false })).scores;
  } finally {
    await engine.close();
  }
}

/** Scores by input position from a native ranking. */
const byIndex = (rankings: { index: number; score: number }[]) =>
  [...rankings].sort((a, b) => a.index - b.index).map((ranking) => ranking.score);

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((score, i) => assert.ok(Math.abs(score - expected[i]!) < 1e-5, `${what}: score ${i} ${score} vs ${expected[i]}`));
}

before(async () => {
  modelDirs = { alpha: await ensureTestModel('tiny', { seed: 1 }), beta: await ensureTestModel('tiny', { seed: 2 }) };
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, SERVED_MODELS: 'alpha,beta', WORKER_HEARTBEAT_MS: '300' };
  const worker = (name: 'alpha' | 'beta', extra: Record<string, string> = {}) =>
    spawnService({
      entry: 'worker/main.ts',
      env: { ...env, MODEL_DIR: modelDirs[name], MODEL_NAME: name, INTRA_OP_THREADS: '1', ...extra },
    });
  processes.push(worker('alpha'), worker('beta', { MAX_SEQ_LENGTH: String(BETA_MAX_LENGTH) }));
  const api = spawnService({
    entry: 'api/main.ts',
    env: {
      ...env,
      PORT: '0',
      MODEL_DIR: modelDirs.alpha,
      MODEL_ALIASES: 'rerank-english-v3.0=beta',
      DASHBOARD_USER: 'admin',
      DASHBOARD_PASSWORD: 's3cret',
    },
  });
  processes.push(api);
  const listening = await api.waitForLine((line) => line.msg === 'api listening');
  base = `http://127.0.0.1:${String(listening.port)}`;
  await Promise.all(processes.slice(0, 2).map((process) => process.waitForLine((line) => line.msg === 'worker ready', 60_000)));
});

after(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('/ready waits for a worker of every served model and counts them per model', async () => {
  const ready = await pollUntil('both models ready', async () => {
    const response = await fetch(`${base}/ready`);
    return response.status === 200 ? ((await response.json()) as { checks: Record<string, unknown> }) : undefined;
  });
  assert.deepEqual(ready.checks, { redis: 'ok', workers: 2, models: { alpha: 1, beta: 1 } });
});

test("each model's requests are scored by its own worker; without a model the default (first) serves", async () => {
  const [alpha, beta] = await Promise.all([expectedScores(modelDirs.alpha, 64), expectedScores(modelDirs.beta, BETA_MAX_LENGTH)]);
  assert.ok(alpha.some((score, i) => Math.abs(score - beta[i]!) > 1e-4), 'the two models score differently');
  for (const [model, expected] of [['alpha', alpha], ['beta', beta], [undefined, alpha]] as const) {
    const response = await post('/rerank', { query: QUERY, documents: DOCUMENTS, ...(model ? { model } : {}) });
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as { rankings: { index: number; score: number }[] };
    assertClose(byIndex(body.rankings), expected, `model ${model ?? '(default)'}`);
  }
});

test("the job id follows the model's workers' max length, not the API's; GET /jobs finds it in its queue", async () => {
  const query = `${QUERY} ${randomUUID()}`;
  const response = await post('/rerank', { query, documents: DOCUMENTS, model: 'beta' }, { prefer: 'respond-async' });
  assert.equal(response.status, 202);
  const { job_id: jobId } = (await response.json()) as { job_id: string };
  assert.match(jobId, /^rq-[0-9a-f]{32}$/, 'a per-request token, not the content hash');
  // The shared job behind the token is keyed by beta's workers' max length, not the API's.
  const hash = jobIdFor({ query, documents: DOCUMENTS, raw: false, model: 'beta', maxLength: BETA_MAX_LENGTH }, 'open');
  const betaQueue = new Queue('rerank@beta', { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
  try {
    assert.ok(await betaQueue.getJob(hash), `job ${hash} in beta's queue`);
  } finally {
    await betaQueue.close();
  }
  const status = await pollUntil('beta job completed', async () => {
    const polled = await fetch(`${base}/jobs/${jobId}`);
    const body = (await polled.json()) as { status: string; result?: unknown };
    return body.status === 'completed' ? body : undefined;
  });
  assert.ok(status.result);
  const page = await fetch(`${base}/jobs/${jobId}/result`);
  assert.equal(page.status, 200);
  assert.equal(((await page.json()) as { total: number }).total, DOCUMENTS.length);
  const cancel = await fetch(`${base}/jobs/${jobId}`, { method: 'DELETE' });
  assert.equal(((await cancel.json()) as { error: { code: string } }).error.code, 'JOB_NOT_CANCELLABLE');
});

test('an unknown model is a 400 listing the served ones, in each dialect; aliases and hub ids are accepted', async () => {
  const native = await post('/rerank', { query: QUERY, documents: DOCUMENTS, model: 'gamma' });
  assert.equal(native.status, 400);
  const { error } = (await native.json()) as { error: { code: string; message: string; details: unknown } };
  assert.equal(error.code, 'UNKNOWN_MODEL');
  assert.deepEqual(error.details, { served: ['alpha', 'beta'] });
  assert.match(error.message, /gamma.*alpha, beta/);

  const cohere = await post('/v2/rerank', { model: 'rerank-v3.5', query: QUERY, documents: DOCUMENTS });
  assert.equal(cohere.status, 400);
  assert.match(((await cohere.json()) as { message: string }).message, /served: alpha, beta/);
  const tei = await post('/tei/rerank', { model: 'gamma', query: QUERY, texts: DOCUMENTS });
  assert.equal(tei.status, 400);
  assert.deepEqual(Object.keys((await tei.json()) as object).sort(), ['error', 'error_type']);

  for (const model of ['rerank-english-v3.0', 'cross-encoder/beta']) {
    const answer = await post('/v2/rerank', { model, query: QUERY, documents: DOCUMENTS });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal(((await answer.json()) as { model: string }).model, 'beta');
  }
  const jina = await post('/v1/rerank', { model: null, query: QUERY, documents: DOCUMENTS });
  assert.equal(((await jina.json()) as { model: string }).model, 'alpha');
});

test('a worker refuses a job for another model (WRONG_MODEL, no retries)', async (t) => {
  const connection = { url: REDIS_URL };
  const queue = new Queue('rerank@beta', { connection, prefix: `{${PREFIX}}` });
  const events = new QueueEvents('rerank@beta', { connection, prefix: `{${PREFIX}}` });
  t.after(async () => Promise.all([queue.close(), events.close()]));
  await events.waitUntilReady();
  const data = { query: QUERY, documents: DOCUMENTS, raw: false, model: 'alpha', maxLength: 64 };
  const job = await queue.add(RERANK_JOB, data, { attempts: 3 });
  await assert.rejects(job.waitUntilFinished(events, 30_000), (error: Error) => {
    assert.equal(parseFailure(error.message).code, 'WRONG_MODEL');
    return true;
  });
  assert.equal((await queue.getJob(String(job.id)))?.attemptsMade, 1);
});

test("the default model's worker refuses a bulk chunk made for another model (WRONG_MODEL, no retries)", async (t) => {
  const connection = { url: REDIS_URL };
  const queue = new Queue<BulkChunkData>(BULK_QUEUE_NAME, { connection, prefix: `{${PREFIX}}` });
  const events = new QueueEvents(BULK_QUEUE_NAME, { connection, prefix: `{${PREFIX}}` });
  t.after(async () => Promise.all([queue.close(), events.close()]));
  await events.waitUntilReady();
  const bulkId = `bj-${randomUUID().replaceAll('-', '')}`;
  const segments = [{ query: QUERY, documents: DOCUMENTS, offset: 0 }];
  const data: BulkChunkData = { bulkId, chunk: 0, segments, raw: false, model: 'beta', maxLength: 64 };
  const job = await queue.add('chunk', data, { jobId: `${bulkId}-0`, attempts: 3 });
  await assert.rejects(job.waitUntilFinished(events, 30_000), (error: Error) => {
    assert.equal(parseFailure(error.message).code, 'WRONG_MODEL');
    return true;
  });
  assert.equal((await queue.getJob(String(job.id)))?.attemptsMade, 1);
});

test('/metrics lists every served model\'s queue and each worker with its model', async () => {
  const response = await fetch(`${base}/metrics?format=json`);
  const metrics = (await response.json()) as {
    queue: { completed: number };
    queues: Record<string, { completed: number }>;
    workers: { model: string; max_length: number }[];
  };
  assert.deepEqual(Object.keys(metrics.queues), ['alpha', 'beta']);
  assert.deepEqual(metrics.queue, metrics.queues.alpha);
  const workers = metrics.workers.map(({ model, max_length }) => `${model}:${max_length}`).sort();
  assert.deepEqual(workers, ['alpha:64', `beta:${BETA_MAX_LENGTH}`]);

  const text = await (await fetch(`${base}/metrics?format=prometheus`)).text();
  for (const model of ['alpha', 'beta']) assert.match(text, new RegExp(`rerank_queue_jobs\\{model="${model}",state="waiting"\\} \\d`));
});

test("the dashboard lists every served model's queue", async () => {
  const authorization = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
  const response = await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization } });
  assert.equal(response.status, 200);
  const { queues } = (await response.json()) as { queues: { name: string }[] };
  const names = queues.map((queue) => queue.name);
  assert.ok(names.includes('rerank') && names.includes('rerank@beta'), names.join(', '));
});
