/**
 * Redis memory is bounded, on a private redis-server (nothing else writes to it, so used_memory is ours): a
 * retained 10,000-document /rerank job and a finished 100,000-document bulk job hold their compact results, not
 * their documents. And results stay pollable by age: an async job's result survives 5,000 later jobs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = 'memory';
let redis: PrivateRedis;
let client: Redis;
let queue: Queue;
let api: ServiceProcess;
let worker: ServiceProcess;
let base: string;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const get = async (path: string) => {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, body: (await response.json()) as any };
};

async function usedMemory(): Promise<number> {
  const info = await client.info('memory');
  return Number(info.match(/^used_memory:(\d+)/m)?.[1]);
}

/** ~870-byte passages, as in the measurement that found 11 MB per retained 10,000-document job. */
const passages = (count: number, salt: string) =>
  Array.from({ length: count }, (_, i) => `${salt} passage ${i} `.padEnd(870, 'lorem ipsum dolor sit amet '));

before(async () => {
  redis = await PrivateRedis.start();
  client = new Redis(redis.url);
  queue = new Queue(QUEUE_NAME, { connection: { url: redis.url }, prefix: `{${PREFIX}}` });
  const modelDir = await ensureTestModel('tiny');
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'info', SYNC_TIMEOUT_MS: '60000' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', MAX_SYNC_WAIT_MS: '60000' } });
  worker = spawnService({ entry: 'worker/main.ts', env: { ...env, WORKER_CONCURRENCY: '16' } });
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await queue?.close();
  client?.disconnect();
  await redis?.stop();
});

test('a retained 10,000-document /rerank job holds <= 300 KB of Redis (its scores, not its documents)', async () => {
  assert.equal((await post('/rerank', { query: 'warm up', documents: ['a', 'b'] })).status, 200);
  const before = await usedMemory();
  const jobs = 3;
  for (let k = 0; k < jobs; k++) {
    const reply = await post('/rerank', { query: `query ${k}`, documents: passages(10_000, `job${k}`) }, { prefer: 'wait=60' });
    assert.equal(reply.status, 200, JSON.stringify(reply.body).slice(0, 200));
    assert.equal(reply.body.rankings.length, 10_000);
  }
  // Documents are dropped right after completion; wait for that rather than for a fixed time.
  await pollUntil('finished jobs stripped of their documents', async () => {
    const completed = await queue.getJobs(['completed']);
    const big = completed.filter((job) => job.data.documentCount === 10_000 && job.data.stripped);
    return big.length === jobs ? true : undefined;
  });
  const perJob = ((await usedMemory()) - before) / jobs;
  process.stdout.write(`# Redis used_memory per retained 10,000-document /rerank job: ${Math.round(perJob / 1024)} KB\n`);
  assert.ok(perJob <= 300 * 1024, `${Math.round(perJob / 1024)} KB per job`);
});

test('a finished 100,000-document bulk job holds <= 3 MB of Redis (its full ranking, for paging)', async () => {
  const before = await usedMemory();
  const documents = Array.from({ length: 100_000 }, (_, i) => `short passage number ${i}`);
  const accepted = await post('/jobs', { query: 'which passage', documents });
  assert.equal(accepted.status, 202);
  const done = await pollUntil('bulk job completed', async () => {
    const reply = await get(`/jobs/${accepted.body.job_id}`);
    return reply.body.status === 'completed' ? reply : undefined;
  }, 120_000);
  assert.equal(done.body.progress.done, 100_000);
  const last = await get(`/jobs/${accepted.body.job_id}/result?offset=99990&limit=100`);
  assert.equal(last.body.rankings.length, 10);
  assert.equal(last.body.next_offset, null);
  const grown = (await usedMemory()) - before;
  process.stdout.write(`# Redis used_memory of a finished 100,000-document bulk job: ${(grown / 2 ** 20).toFixed(2)} MB\n`);
  assert.ok(grown <= 3 * 2 ** 20, `${(grown / 2 ** 20).toFixed(2)} MB`);
});

test('results stay pollable by age: an async job still answers after 5,000 later jobs', async () => {
  const accepted = await post('/rerank', { query: 'keep me', documents: ['x', 'y', 'z'] }, { prefer: 'respond-async' });
  assert.equal(accepted.status, 202);
  const first = await pollUntil('the async job completed', async () => {
    const reply = await get(accepted.body.status_url);
    return reply.body.status === 'completed' ? reply : undefined;
  });
  let next = 0;
  const client = async () => {
    for (let k = next++; k < 5_000; k = next++) {
      const reply = await post('/rerank', { query: `small ${k}`, documents: ['a'] });
      assert.equal(reply.status, 200);
    }
  };
  await Promise.all(Array.from({ length: 16 }, client));
  assert.ok((await queue.getCompletedCount()) > 5_000);
  const later = await get(accepted.body.status_url);
  assert.equal(later.status, 200);
  assert.deepEqual(later.body.result, first.body.result);
});
