/**
 * The queue-backed API end to end: real API and worker processes on the shared Redis (unique prefix), the tiny
 * generated model. The worker starts late on purpose: first the 202 path and /ready at 503, then everything else.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { OPEN_OWNER } from '../../api/auth/owner.ts';
import { jobIdFor } from '../../api/services/job-id.ts';
import { createJobToken } from '../../api/services/job-tokens.ts';
import { loadConfig } from '../../shared/config.ts';
import { QUEUE_NAME, RERANK_JOB } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-api-queue-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
let modelDir: string;
let modelName: string;
let api: ServiceProcess;
let worker: ServiceProcess | undefined;
let base: string;

const SEED_EXAMPLE = {
  query: 'who founded fastapi',
  documents: [
    { text: 'FastAPI was created by Sebastian Ramirez.' },
    { text: 'Flask is a Python microframework released in 2010.' },
  ],
  top_k: 1,
};

interface Reply {
  status: number;
  headers: Headers;
  /** JSON of many shapes, asserted field by field. */
  body: any;
}

async function call(path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const env = () => ({
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  MODEL_DIR: modelDir,
  LOG_LEVEL: 'info',
  WORKER_HEARTBEAT_MS: '300',
});

async function startWorker(): Promise<void> {
  worker = spawnService({ entry: 'worker/main.ts', env: env() });
  await worker.waitForLine((line) => line.msg === 'worker ready', 60_000);
}

before(async () => {
  modelDir = await ensureTestModel('tiny');
  modelName = modelDir.split('/').at(-1)!;
  const waits = { SYNC_TIMEOUT_MS: '5000', MAX_SYNC_WAIT_MS: '10000' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env(), PORT: '0', ...waits } });
  const listening = await api.waitForLine((line) => line.msg === 'api listening');
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('without a worker: /health is ok, /ready is 503 with the reason', async () => {
  assert.deepEqual((await call('/health')).body, { status: 'ok' });
  const ready = await call('/ready');
  assert.equal(ready.status, 503);
  assert.equal(ready.body.status, 'not_ready');
  assert.match(ready.body.reason, /worker/);
  assert.deepEqual(ready.body.checks, { redis: 'ok', workers: 0, models: { [modelName]: 0 } });
  assert.equal(ready.body.error.code, 'NOT_READY');
});

let accepted: Reply;

test('no worker yet: the seed example answers 202 with Location and Retry-After after the preferred wait', async () => {
  const started = performance.now();
  accepted = await call('/rerank', { body: SEED_EXAMPLE, headers: { prefer: 'wait=1' } });
  const elapsed = performance.now() - started;
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  assert.ok(elapsed >= 900 && elapsed < 3_000, `waited ${elapsed} ms for wait=1`);
  assert.equal(accepted.headers.get('preference-applied'), 'wait=1');
  assert.equal(accepted.headers.get('retry-after'), '1');
  assert.match(accepted.body.job_id, /^rq-[0-9a-f]{32}$/, 'a per-request token, not the content hash');
  assert.equal(accepted.body.status, 'queued');
  assert.equal(accepted.body.status_url, `/jobs/${accepted.body.job_id}`);
  assert.equal(accepted.headers.get('location'), accepted.body.status_url);
  const status = await call(accepted.body.status_url);
  assert.equal(status.status, 200);
  assert.equal(status.body.status, 'queued');
  assert.ok(!Number.isNaN(Date.parse(status.body.created_at)));
});

test('start the worker: /ready turns 200, and the queued job completes with the sync result', async () => {
  await startWorker();
  const ready = await pollUntil('/ready 200', async () => {
    const reply = await call('/ready');
    return reply.status === 200 ? reply : undefined;
  }, 20_000);
  assert.deepEqual(ready.body, { status: 'ready', checks: { redis: 'ok', workers: 1, models: { [modelName]: 1 } } });

  const done = await pollUntil('job completed', async () => {
    const reply = await call(accepted.body.status_url);
    return reply.body.status === 'completed' ? reply : undefined;
  }, 20_000);
  assert.equal(done.body.job_id, accepted.body.job_id);
  assert.ok(Date.parse(done.body.finished_at) >= Date.parse(done.body.created_at));
  const sync = await call('/rerank', { body: SEED_EXAMPLE });
  assert.equal(sync.status, 200);
  assert.deepEqual(done.body.result, sync.body);
});

test('sync 200 with the seed example: the seed response shape', async () => {
  const reply = await call('/rerank', { body: { ...SEED_EXAMPLE, query: 'who created fastapi' } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.headers.get('preference-applied'), null);
  assert.equal(reply.body.top_k_applied, true);
  assert.equal(reply.body.rankings.length, 1);
  const [top] = reply.body.rankings;
  assert.ok(top.index === 0 || top.index === 1);
  assert.ok(top.score > 0 && top.score < 1, 'sigmoid scores lie in (0, 1)');
});

test('full ranking, plain-string documents and raw scores (logits whose sigmoid is the score)', async () => {
  const documents = ['alpha beta', 'gamma', 'delta epsilon zeta', 'eta'];
  const scored = await call('/rerank', { body: { query: 'beta gamma', documents } });
  assert.equal(scored.status, 200);
  assert.equal(scored.body.top_k_applied, false);
  assert.deepEqual(scored.body.rankings.map((r: { index: number }) => r.index).sort(), [0, 1, 2, 3]);
  const scores = scored.body.rankings.map((r: { score: number }) => r.score);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a));

  const raw = await call('/rerank', { body: { query: 'beta gamma', documents, raw_scores: true, top_k: 10 } });
  assert.equal(raw.status, 200);
  assert.equal(raw.body.top_k_applied, false);
  const byIndex = new Map(scored.body.rankings.map((r: { index: number; score: number }) => [r.index, r.score]));
  for (const { index, score } of raw.body.rankings) {
    assert.ok(Math.abs(1 / (1 + Math.exp(-score)) - Number(byIndex.get(index))) < 1e-6, `index ${index}`);
  }
});

test('Prefer: respond-async answers 202 at once; wait=N is honoured, capped, and echoed', async () => {
  const started = performance.now();
  const rerank = (query: string, prefer: string) =>
    call('/rerank', { body: { query, documents: ['a', 'b'] }, headers: { prefer } });
  const async = await rerank('respond later', 'respond-async');
  assert.equal(async.status, 202);
  assert.ok(performance.now() - started < 1_000);
  assert.equal(async.headers.get('preference-applied'), 'respond-async');
  const later = await pollUntil('async job', async () => {
    const reply = await call(async.body.status_url);
    return reply.body.status === 'completed' ? reply : undefined;
  }, 20_000);
  assert.equal(later.body.result.rankings.length, 2);

  const waited = await rerank('wait for it', 'wait=5');
  assert.equal(waited.status, 200);
  assert.equal(waited.headers.get('preference-applied'), 'wait=5');
  const capped = await rerank('wait long', 'respond-async, wait=999');
  assert.equal(capped.status, 200);
  assert.equal(capped.headers.get('preference-applied'), 'wait=10', 'capped by MAX_SYNC_WAIT_MS and answered in time');
});

test('dedupe: identical requests (differing only in top_k) share one job and one result', async () => {
  const before = (await call('/metrics')).body.queue;
  const documents = Array.from({ length: 20 }, (_, i) => `shared document number ${i}`);
  const replies = await Promise.all(
    Array.from({ length: 30 }, (_, i) => call('/rerank', { body: { query: 'dedupe me', documents, top_k: (i % 5) + 1 } })),
  );
  assert.ok(replies.every((reply) => reply.status === 200));
  const full = await call('/rerank', { body: { query: 'dedupe me', documents } });
  for (const [i, reply] of replies.entries()) {
    assert.deepEqual(reply.body.rankings, full.body.rankings.slice(0, (i % 5) + 1));
  }
  const afterCounts = (await call('/metrics')).body.queue;
  assert.equal(afterCounts.completed - before.completed, 1, 'one job ran for 31 requests');
});

test('bad job data fails at once without retries, is visible in GET /jobs/:id, and an identical request runs again', async () => {
  const good = { query: 'poisoned', documents: ['a', 'b'] };
  const jobId = jobIdFor({ ...good, raw: false, model: modelName, maxLength: 64 }, OPEN_OWNER);
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
  // Clients never see the job's id: a token for it, as a 202 would have handed out, is how the API shows it.
  const redis = new Redis(REDIS_URL);
  const tokens = { config: loadConfig({}), redis, prefix: `{${PREFIX}}`, withRedis: <T>(op: () => Promise<T>) => op() };
  const token = await createJobToken(tokens, { jobId, owner: OPEN_OWNER }).finally(() => redis.quit());
  try {
    await queue.add(RERANK_JOB, { query: 'poisoned', documents: [5], raw: false }, { jobId, attempts: 3 });
    const failed = await pollUntil('job failed', async () => {
      const reply = await call(`/jobs/${token}`);
      return reply.body.status === 'failed' ? reply : undefined;
    }, 20_000);
    assert.equal(failed.body.error.code, 'INVALID_JOB_DATA');
    assert.match(failed.body.error.message, /documents\[0\]/);
    assert.equal((await queue.getJob(jobId))?.attemptsMade, 1, 'no retries for bad data');
  } finally {
    await queue.close();
  }
  const again = await call('/rerank', { body: good });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.rankings.length, 2);
  assert.equal((await call(`/jobs/${token}`)).body.status, 'completed');
});

test('/metrics: the API process, the queue and the live worker with its own stats', async () => {
  const metrics = await pollUntil('a worker report with completed jobs', async () => {
    const reply = await call('/metrics');
    return reply.body.workers[0]?.jobs.completed > 0 ? reply : undefined;
  }, 20_000);
  const { body } = metrics;
  assert.equal(metrics.status, 200);
  for (const stats of [body, body.workers[0]]) {
    assert.ok(stats.memory.rss_mb > 0 && stats.memory.vms_mb > 0);
    assert.equal(typeof stats.cpu_percent, 'number');
    assert.ok(stats.num_threads >= 1);
  }
  assert.equal(body.redis, 'ok');
  assert.equal(body.api.pending_waits, 0);
  for (const field of ['waiting', 'active', 'completed', 'failed', 'delayed']) {
    assert.equal(typeof body.queue[field], 'number');
  }
  assert.equal(body.workers.length, 1);
  const [report] = body.workers;
  assert.equal(report.model, modelName);
  assert.equal(report.pid, worker?.child.pid);
  assert.equal(typeof report.jobs.failed, 'number');
  assert.ok(!Number.isNaN(Date.parse(report.reported_at)));
  assert.ok(report.reported_ms_ago >= 0 && report.reported_ms_ago < 3 * 300 + 500);
});

test('when the worker stops, /ready goes back to 503', async () => {
  await worker?.stop();
  worker = undefined;
  const ready = await pollUntil('/ready 503', async () => {
    const reply = await call('/ready');
    return reply.status === 503 ? reply : undefined;
  }, 20_000);
  assert.equal(ready.body.checks.workers, 0);
});

test('SIGTERM: a waiting request is answered 202 at once and the API exits cleanly', async () => {
  const waiting = call('/rerank', { body: { query: 'caught by shutdown', documents: ['a'] } });
  const pendingWaits = async () => (await call('/metrics')).body.api.pending_waits as number;
  await pollUntil('the request to be waiting', async () => ((await pendingWaits()) === 1 ? true : undefined), 20_000);
  const started = performance.now();
  const exited = api.stop();
  const released = await waiting;
  assert.equal(released.status, 202);
  assert.equal(released.body.status, 'queued');
  assert.equal(await exited, 0);
  assert.ok(performance.now() - started < 3_000, `shutdown took ${performance.now() - started} ms`);
  assert.ok(api.lines.some((line) => line.msg === 'api closed'));
});
