/**
 * Large /rerank jobs keep their documents in a Redis list beside the job (shared/job-documents.ts), with real API
 * and worker processes on a private redis-server: the job's data holds no documents, the scores are those of the
 * same job with its documents inline, nothing is left in Redis afterwards (not even when identical requests race),
 * and a job whose list is gone fails with a code instead of scoring nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { INLINE_DOCUMENTS_MAX_CHARS } from '../../shared/job-documents.ts';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData } from '../../shared/queue.ts';
import { readScores } from '../../shared/results.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = 'docs';
let redis: PrivateRedis;
let client: Redis;
let queue: Queue<RerankJobData>;
let events: QueueEvents;
let api: ServiceProcess;
let worker: ServiceProcess;
let base: string;

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const get = async (path: string) => ((await fetch(`${base}${path}`)).json()) as Promise<any>;

/** Just over the inline threshold: 1,100 documents of ~1,000 characters. */
const largeDocuments = (salt: string) =>
  Array.from({ length: 1_100 }, (_, i) => `${salt} passage ${i} `.padEnd(1_000, 'tides rise and fall with the moon '));

const documentKeys = () => client.keys(`{${PREFIX}}:*:docs:*`);

before(async () => {
  redis = await PrivateRedis.start();
  client = new Redis(redis.url);
  const connection = { url: redis.url };
  queue = new Queue(QUEUE_NAME, { connection, prefix: `{${PREFIX}}` });
  events = new QueueEvents(QUEUE_NAME, { connection, prefix: `{${PREFIX}}` });
  const modelDir = await ensureTestModel('tiny');
  // The API's jobs name its default model, 'default'; the worker serves that one.
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'info' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', SYNC_TIMEOUT_MS: '30000' } });
  worker = spawnService({ entry: 'worker/main.ts', env });
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
    events.waitUntilReady(),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await events?.close();
  await queue?.close();
  client?.disconnect();
  await redis?.stop();
});

test('a large job keeps its documents in a list, scores as if they were inline, and leaves nothing behind', async () => {
  const documents = largeDocuments('listed');
  assert.ok(documents.join('').length > INLINE_DOCUMENTS_MAX_CHARS);
  await queue.pause();
  let jobId: string;
  let inlineData: RerankJobData;
  try {
    const accepted = await post({ query: 'what moves the tides', documents }, { prefer: 'respond-async' });
    assert.equal(accepted.status, 202);
    const [waiting] = await queue.getWaiting();
    assert.ok(waiting, 'the job is queued');
    jobId = String(waiting.id);
    // No documents field: a worker that predates lists fails the job instead of scoring an empty array.
    assert.equal('documents' in waiting.data, false, 'no documents in the job data');
    const { documentsList: list, ...rest } = waiting.data;
    assert.ok(list);
    inlineData = { ...rest, documents };
    assert.equal(list.count, documents.length);
    assert.equal(await client.llen(list.key), documents.length);
    assert.deepEqual(await client.lrange(list.key, 7, 7), [documents[7]]);
    assert.equal(await client.ttl(list.key), -1, 'a list whose job exists does not expire');
  } finally {
    await queue.resume();
  }
  const done = await pollUntil('the listed job completed', async () => {
    const found = await queue.getJob(jobId);
    return (await found?.getState()) === 'completed' ? found : undefined;
  }, 60_000);
  // The same job with its documents inline, added by hand as tools and older APIs do.
  const inline = await queue.add(RERANK_JOB, inlineData);
  await inline.waitUntilFinished(events, 60_000);
  const prefix = `{${PREFIX}}`;
  assert.deepEqual(await readScores(client, prefix, String(done.id)), await readScores(client, prefix, String(inline.id)));
  await pollUntil('the list deleted', async () => ((await documentKeys()).length === 0 ? true : undefined));
});

test('identical large requests at once share one job and leave no list behind', async () => {
  const body = { query: 'which passage', documents: largeDocuments('twins') };
  const replies = await Promise.all(Array.from({ length: 4 }, () => post(body)));
  for (const reply of replies) assert.equal(reply.status, 200, JSON.stringify(reply.body).slice(0, 200));
  assert.deepEqual(new Set(replies.map((reply) => JSON.stringify(reply.body.rankings))).size, 1);
  await pollUntil('every list deleted', async () => ((await documentKeys()).length === 0 ? true : undefined));
});

test('a job whose list is gone fails INVALID_JOB_DATA instead of scoring nothing', async () => {
  await queue.pause();
  let statusUrl: string;
  try {
    const accepted = await post({ query: 'lost', documents: largeDocuments('lost') }, { prefer: 'respond-async' });
    assert.equal(accepted.status, 202);
    statusUrl = accepted.body.status_url;
    const [waiting] = await queue.getWaiting();
    assert.equal(await client.del(waiting!.data.documentsList!.key), 1);
  } finally {
    await queue.resume();
  }
  const failed = await pollUntil('the job failed', async () => {
    const reply = await get(statusUrl);
    return reply.status === 'failed' ? reply : undefined;
  }, 30_000);
  assert.equal(failed.error.code, 'INVALID_JOB_DATA');
  assert.match(failed.error.message, /no longer in Redis/);
});
