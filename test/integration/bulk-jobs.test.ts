/**
 * Bulk jobs end to end: one real API and TWO real worker processes on the shared Redis (unique prefix), the tiny
 * generated model, small chunks so that both workers take some. Both body forms, progress, paging, cancel,
 * idempotency, bad input, and a /rerank served while a bulk job runs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { BULK_QUEUE_NAME } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-bulk-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const CHUNK = 50;
let api: ServiceProcess;
let workers: ServiceProcess[] = [];
let base: string;
let bulkQueue: Queue;

interface Reply {
  status: number;
  headers: Headers;
  /** JSON of many shapes, asserted field by field. */
  body: any;
}

async function call(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const WORDS = 'fox hare river stone maple cloud lantern copper meadow violin harbor ember quartz willow'.split(' ');
const docs = (count: number, salt: number) =>
  Array.from({ length: count }, (_, i) =>
    Array.from({ length: 3 + ((i * 7 + salt) % 9) }, (_, k) => WORDS[(i * 31 + k * 17 + salt) % WORDS.length]).join(' ') +
    ` ${i}`,
  );

/** Polls a bulk job to its end, checking on the way that progress only grows and never passes its total. */
async function untilFinished(jobId: string, timeoutMs = 60_000): Promise<{ final: Reply; seen: number[] }> {
  const seen: number[] = [];
  const final = await pollUntil(`bulk job ${jobId} finished`, async () => {
    const reply = await call(`/jobs/${jobId}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const { done, total } = reply.body.progress;
    assert.ok(done <= total, `progress ${done}/${total}`);
    assert.ok(done >= (seen.at(-1) ?? 0), `progress went down: ${seen.at(-1)} -> ${done}`);
    seen.push(done);
    return ['completed', 'failed', 'cancelled'].includes(reply.body.status) ? reply : undefined;
  }, timeoutMs);
  return { final, seen };
}

async function allPages(jobId: string, limit: number): Promise<any[]> {
  const items: any[] = [];
  for (let offset: number | null = 0; offset !== null; ) {
    const page: Reply = await call(`/jobs/${jobId}/result?offset=${offset}&limit=${limit}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    items.push(...(page.body.rankings ?? page.body.results));
    offset = page.body.next_offset;
  }
  return items;
}

/** The same documents through one POST /rerank: the reference a merged ranking must equal. */
async function rerankScores(query: string, documents: string[]): Promise<number[]> {
  const reply = await call('/rerank', { body: { query, documents }, headers: { prefer: 'wait=30' } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const scores: number[] = [];
  for (const { index, score } of reply.body.rankings) scores[index] = score;
  return scores;
}

/** A ranking equals the global order of `reference`: every index once, scores alike, score descending. */
function assertGlobalOrder(rankings: { index: number; score: number }[], reference: number[], label: string): void {
  assert.deepEqual(rankings.map((r) => r.index).sort((a, b) => a - b), [...reference.keys()], `${label}: every index once`);
  rankings.forEach(({ index, score }, k) => {
    assert.ok(Math.abs(score - reference[index]!) < 1e-5, `${label}: score of ${index}`);
    const next = rankings[k + 1];
    if (next) assert.ok(score > next.score || (score === next.score && index < next.index), `${label}: order at ${k}`);
  });
  const best = Math.max(...reference);
  assert.ok(Math.abs(rankings[0]!.score - best) < 1e-5, `${label}: the best document comes first`);
}

before(async () => {
  const modelDir = await ensureTestModel('tiny');
  const env = {
    REDIS_URL,
    QUEUE_PREFIX: PREFIX,
    MODEL_DIR: modelDir,
    LOG_LEVEL: 'info',
    BULK_CHUNK_DOCUMENTS: String(CHUNK),
    BULK_WORKER_CONCURRENCY: '1',
    MAX_BULK_DOCUMENTS: '60000',
    INTRA_OP_THREADS: '1',
  };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0' } });
  workers = [0, 1].map(() => spawnService({ entry: 'worker/main.ts', env }));
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    ...workers.map((worker) => worker.waitForLine((line) => line.msg === 'worker ready', 60_000)),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
  bulkQueue = new Queue(BULK_QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
});

after(async () => {
  await bulkQueue?.close();
  await Promise.all([...workers.map((worker) => worker.stop()), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('form 1: 202, progress up to total, two workers share the chunks, the merged ranking is the global order', async () => {
  const query = 'copper fox by the river';
  const documents = docs(2_000, 1);
  const accepted = await call('/jobs', { body: { query, documents } });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  assert.match(accepted.body.job_id, /^bj-[0-9a-f]{32}$/);
  assert.equal(accepted.body.status, 'queued');
  assert.equal(accepted.body.status_url, `/jobs/${accepted.body.job_id}`);
  assert.equal(accepted.headers.get('location'), accepted.body.status_url);
  assert.ok(Number(accepted.headers.get('retry-after')) >= 1);

  const { final, seen } = await untilFinished(accepted.body.job_id);
  const status = final.body;
  assert.equal(status.status, 'completed', JSON.stringify(status));
  assert.deepEqual(status.progress, { done: 2_000, total: 2_000 });
  assert.ok(seen.length >= 1);
  assert.equal(status.chunks, 2_000 / CHUNK);
  assert.equal(status.workers.length, 2, `both workers took chunks: ${JSON.stringify(status.workers)}`);
  assert.equal(status.workers.reduce((sum: number, w: { chunks: number }) => sum + w.chunks, 0), status.chunks);
  assert.ok(Date.parse(status.finished_at) >= Date.parse(status.started_at));
  assert.ok(Date.parse(status.started_at) >= Date.parse(status.created_at));
  assert.equal(status.result.rankings.length, 1_000, 'first page inline');
  assert.equal(status.result_url, `/jobs/${status.job_id}/result`);
  // The dashboard shows the finished bulk job (its merge step) under a readable name; its chunks are gone.
  const merge = await bulkQueue.getJob(status.job_id);
  assert.equal(merge?.name, '"copper fox by the river" × 2,000');
  assert.equal(await bulkQueue.getJob(`${status.job_id}-0`), undefined);

  const rankings = await allPages(status.job_id, 700);
  assert.equal(rankings.length, 2_000);
  assertGlobalOrder(rankings, await rerankScores(query, documents), 'form 1');
  const page = await call(`/jobs/${status.job_id}/result?offset=150&limit=20`);
  assert.deepEqual(page.body.rankings, rankings.slice(150, 170));
  assert.equal(page.body.next_offset, 170);
  assert.equal(page.body.total, 2_000);
});

test('form 1 with top_k: the best k of the global order', async () => {
  const query = 'maple lantern';
  const documents = docs(300, 2);
  const accepted = await call('/jobs', { body: { query, documents, top_k: 7, raw_scores: true } });
  const { final } = await untilFinished(accepted.body.job_id);
  assert.equal(final.body.result.total, 7);
  assert.equal(final.body.result.top_k_applied, true);
  const reference = await call('/rerank', { body: { query, documents, top_k: 7, raw_scores: true } });
  assert.deepEqual(final.body.result.rankings.map((r: { index: number }) => r.index), reference.body.rankings.map((r: { index: number }) => r.index));
});

test('form 2: each request ranked alone under its position and id, requests split across chunks', async () => {
  const requests = Array.from({ length: 20 }, (_, k) => ({
    ...(k % 3 === 0 ? { id: `req-${k}` } : {}),
    query: `${WORDS[k % WORDS.length]} ${WORDS[(k * 5) % WORDS.length]}`,
    documents: docs(40 + ((k * 37) % 130), k),
    ...(k % 4 === 1 ? { top_k: 5 } : {}),
  }));
  const accepted = await call('/jobs', { body: { requests } });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const { final } = await untilFinished(accepted.body.job_id);
  const total = requests.reduce((sum, request) => sum + request.documents.length, 0);
  assert.equal(final.body.status, 'completed');
  assert.deepEqual(final.body.progress, { done: total, total });
  assert.equal(final.body.requests, 20);
  assert.equal(final.body.workers.length, 2, `both workers took chunks: ${JSON.stringify(final.body.workers)}`);
  const results = await allPages(accepted.body.job_id, 6);
  assert.equal(results.length, 20);
  for (const [k, request] of requests.entries()) {
    const result = results[k];
    assert.equal(result.index, k);
    assert.equal(result.id, request.id);
    const reference = await rerankScores(request.query, request.documents);
    if (request.top_k) {
      assert.equal(result.top_k_applied, true);
      assert.equal(result.rankings.length, 5);
      const best = [...reference.keys()].sort((a, b) => reference[b]! - reference[a]! || a - b).slice(0, 5);
      assert.deepEqual(result.rankings.map((r: { index: number }) => r.index), best, `request ${k} top 5`);
    } else {
      assert.equal(result.top_k_applied, false);
      assertGlobalOrder(result.rankings, reference, `request ${k}`);
    }
  }
});

test('cancel mid-way: status cancelled, waiting chunks removed, nothing more scored; DELETE again deletes it', async () => {
  const accepted = await call('/jobs', { body: { query: 'ember willow', documents: docs(50_000, 3) } });
  const id = accepted.body.job_id;
  await pollUntil('a first chunk stored', async () => {
    const reply = await call(`/jobs/${id}`);
    return reply.body.progress.done > 0 ? reply : undefined;
  });
  const cancelled = await call(`/jobs/${id}`, { method: 'DELETE' });
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assert.equal(cancelled.body.status, 'cancelled');
  const doneAtCancel = cancelled.body.progress.done;
  assert.ok(doneAtCancel < 50_000, 'cancelled mid-way');
  // Every chunk ends (removed, or skipped by the worker that held it) ...
  const chunkLines = () =>
    workers.flatMap((worker) => worker.lines.filter((line) => line.msg === 'bulk chunk done' && line.bulkId === id));
  await pollUntil('no chunk waiting or active', async () => {
    const counts = await bulkQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    return Object.values(counts).every((count) => count === 0) ? true : undefined;
  });
  // ... and the pairs stored are the ones progress showed when the cancel was answered.
  const later = await call(`/jobs/${id}`);
  assert.equal(later.body.progress.done, doneAtCancel);
  const stored = chunkLines().filter((line) => line.skipped === false);
  assert.equal(stored.reduce((sum, line) => sum + Number(line.pairs), 0), doneAtCancel);
  assert.ok(stored.length < 50_000 / CHUNK, 'not every chunk ran');
  assert.equal(later.body.result, undefined);
  assert.equal((await call(`/jobs/${id}/result`)).body.error.code, 'RESULT_NOT_READY');

  assert.equal((await call(`/jobs/${id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await call(`/jobs/${id}`)).status, 404);
});

test('Idempotency-Key: same key and body -> same job; same key, other body -> 409', async () => {
  const key = `key-${randomUUID()}`;
  const body = { query: 'quartz meadow', documents: docs(120, 4) };
  const first = await call('/jobs', { body, headers: { 'idempotency-key': key } });
  const again = await call('/jobs', { body, headers: { 'idempotency-key': key } });
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.equal(again.body.job_id, first.body.job_id);
  const other = await call('/jobs', { body: { ...body, top_k: 3 }, headers: { 'idempotency-key': key } });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  const fresh = await call('/jobs', { body, headers: { 'idempotency-key': `${key}-2` } });
  assert.notEqual(fresh.body.job_id, first.body.job_id);
  const bad = await call('/jobs', { body, headers: { 'idempotency-key': 'x'.repeat(300) } });
  assert.equal(bad.body.error.code, 'INVALID_IDEMPOTENCY_KEY');
});

test('bad bulk input: the same clear 4xx as /rerank; a bad request in form 2 names its index', async () => {
  const cases: [unknown, number, string, unknown?][] = [
    [{ query: 'q' }, 400, 'NO_DOCUMENTS'],
    [{ query: ' ', documents: ['a'] }, 400, 'EMPTY_QUERY'],
    [{ query: 'q', documents: ['a', 3] }, 400, 'INVALID_DOCUMENT', { index: 1 }],
    [{ query: 'q', documents: ['a'], topk: 1 }, 400, 'UNKNOWN_FIELD', { field: 'topk' }],
    [{ query: 'q', documents: Array(60_001).fill('a') }, 413, 'TOO_MANY_DOCUMENTS', { limit: 60_000 }],
    // Longer than a whole /rerank body (MAX_BODY_BYTES, 16 MiB by default): a chunk holds its documents whole.
    [{ query: 'q', documents: ['a', 'x'.repeat(16 * 2 ** 20 + 1)] }, 413, 'DOCUMENT_TOO_LONG', { index: 1, limit: 16 * 2 ** 20 }],
    [{ requests: [] }, 400, 'NO_REQUESTS'],
    [
      { requests: [{ query: 'q', documents: ['a'] }, { query: 'q', documents: ['a'] }, { query: 'q', documents: ['a', { txt: 'b' }] }] },
      400,
      'INVALID_DOCUMENT',
      { index: 1, request: 2 },
    ],
    [{ requests: [{ query: 'q', documents: ['a'] }, { documents: ['a'] }] }, 400, 'EMPTY_QUERY', { request: 1 }],
    [{ requests: [{ query: 'q', documents: Array(10_001).fill('a') }] }, 413, 'TOO_MANY_DOCUMENTS', { limit: 10_000, request: 0 }],
    [{ requests: [{ query: 'q', documents: ['a'], top_k: 0 }] }, 400, 'INVALID_TOP_K', { request: 0 }],
    [[1, 2], 400, 'VALIDATION_FAILED'],
  ];
  for (const [body, status, code, details] of cases) {
    const reply = await call('/jobs', { body });
    assert.equal(reply.status, status, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error.code, code);
    if (details) assert.deepEqual(reply.body.error.details, details);
  }
  const missing = await call(`/jobs/bj-${'0'.repeat(32)}`);
  assert.equal(missing.status, 404);
  assert.equal((await call('/jobs/bj-123')).body.error.code, 'INVALID_JOB_ID');
  const rerank = await call('/rerank', { body: { query: 'q', documents: ['a'] } });
  assert.equal(rerank.status, 200);
  const rerankJob = await call('/rerank', { body: { query: 'q', documents: ['a'] }, headers: { prefer: 'respond-async' } });
  const refused = await call(`/jobs/${rerankJob.body.job_id}`, { method: 'DELETE' });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'JOB_NOT_CANCELLABLE');
  const page = await call(`/jobs/${rerankJob.body.job_id}/result?limit=1`);
  assert.equal(page.body.rankings.length, 1);
});

test("GET /jobs/:id/result of a /rerank 202 pages its ranking cut to the request's own top_k, as GET /jobs/:id", async () => {
  const body = { query: 'top k paging', documents: ['red fox', 'blue whale', 'grey wolf', 'brown bear', 'snow owl'], top_k: 2 };
  const accepted = await call('/rerank', { body, headers: { prefer: 'respond-async' } });
  assert.equal(accepted.status, 202);
  const status = await pollUntil('the /rerank job completed', async () => {
    const reply = await call(accepted.body.status_url);
    return reply.body.status === 'completed' ? reply : undefined;
  });
  const page = await call(`/jobs/${accepted.body.job_id}/result`);
  assert.equal(page.status, 200);
  assert.equal(page.body.total, 2);
  assert.equal(page.body.top_k_applied, true);
  assert.deepEqual(page.body.rankings, status.body.result.rankings);
});

test('interactive first: a /rerank completes while a large bulk job is still running', async () => {
  const accepted = await call('/jobs', { body: { query: 'harbor violin', documents: docs(50_000, 5) } });
  const id = accepted.body.job_id;
  await pollUntil('the bulk job running', async () => {
    const reply = await call(`/jobs/${id}`);
    return reply.body.progress.done > 0 ? reply : undefined;
  });
  const reply = await call('/rerank', { body: { query: 'cloud', documents: docs(20, 6) }, headers: { prefer: 'wait=30' } });
  assert.equal(reply.status, 200);
  const bulk = await call(`/jobs/${id}`);
  assert.equal(bulk.body.status, 'active', 'the /rerank did not wait for the bulk job');
  assert.ok(bulk.body.progress.done < bulk.body.progress.total);
  await call(`/jobs/${id}`, { method: 'DELETE' });
});

test('application/x-ndjson: header line, then one document per line; the same job and the same errors', async () => {
  const post = async (lines: string[]) => {
    const response = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${lines.join('\n')}\n`,
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const documents = docs(230, 8);
  const lines = documents.map((document, i) => JSON.stringify(i % 2 ? document : { text: document }));
  const accepted = await post([JSON.stringify({ query: 'stone harbor', top_k: 50 }), ...lines]);
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const { final } = await untilFinished(accepted.body.job_id);
  assert.deepEqual(final.body.progress, { done: 230, total: 230 });
  const json = await call('/jobs', { body: { query: 'stone harbor', top_k: 50, documents } });
  const { final: jsonFinal } = await untilFinished(json.body.job_id);
  assert.deepEqual(final.body.result.rankings, jsonFinal.body.result.rankings);

  const bad: [string[], number, string, unknown?][] = [
    [[JSON.stringify({ query: 'q' }), '"a"', '{"txt": "b"}'], 400, 'INVALID_DOCUMENT', { index: 1 }],
    [[JSON.stringify({ query: 'q' }), '"a"', 'not json'], 400, 'INVALID_DOCUMENT', { index: 1 }],
    [[JSON.stringify({ query: 'q', topk: 2 }), '"a"'], 400, 'UNKNOWN_FIELD', { field: 'topk' }],
    [[JSON.stringify({ query: '' }), '"a"'], 400, 'EMPTY_QUERY'],
    [[JSON.stringify({ query: 'q' })], 400, 'NO_DOCUMENTS'],
    [[JSON.stringify({ query: 'q' }), ...Array(60_001).fill('"a"')], 413, 'TOO_MANY_DOCUMENTS', { limit: 60_000 }],
  ];
  for (const [body, status, code, details] of bad) {
    const reply = await post(body);
    assert.equal(reply.status, status, `${body.slice(0, 3).join(' | ')}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error.code, code);
    if (details) assert.deepEqual(reply.body.error.details, details);
  }
});
