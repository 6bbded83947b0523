/**
 * The one-round-trip job snapshot POST /rerank decides on (api/services/job-snapshot.ts), on the shared Redis with a
 * unique prefix: no job, a pending one, a completed one with and without its stored scores, a failed one, and the
 * queue depth. Jobs are finished by a BullMQ worker in this process, the way the service's worker finishes them.
 * Also the inline scores small results carry (shared/results.ts), and that a burst of new requests against an app
 * (no worker) is admitted up to MAX_QUEUE_DEPTH, not beyond: its snapshots are all read before its adds land.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApp } from '../../api/app.ts';
import { snapshotJob } from '../../api/services/job-snapshot.ts';
import type { RerankQueue } from '../../api/plugins/queue.ts';
import { loadConfig } from '../../shared/config.ts';
import type { RerankJobResult } from '../../shared/queue.ts';
import { INLINE_SCORES_MAX, decodeInlineScores, inlineScores, writeScores } from '../../shared/results.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';

const QUEUE_PREFIX = `test-job-snapshot-${randomUUID().slice(0, 8)}`;
const prefix = `{${QUEUE_PREFIX}}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const NAME = 'snapshot';
let redis: Redis;
let queue: RerankQueue;
const deps = () => ({ redis, prefix, queue });

before(() => {
  redis = new Redis(REDIS_URL);
  queue = new Queue(NAME, { connection: { url: REDIS_URL }, prefix });
});

after(async () => {
  await queue.close();
  redis.disconnect();
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

/** Runs the queue's jobs until `count` have finished: 'ok' jobs complete, others fail for good. */
async function finish(count: number): Promise<void> {
  const worker = new Worker(
    NAME,
    async (job: Job) => {
      if (job.data.outcome !== 'ok') throw new UnrecoverableError('INFERENCE_FAILED: no');
      const result: Pick<RerankJobResult, 'count'> = { count: 1 };
      return result;
    },
    { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix },
  );
  let finished = 0;
  const done = new Promise<void>((resolve) => {
    const onFinished = () => ++finished === count && resolve();
    worker.on('completed', onFinished);
    worker.on('failed', onFinished);
  });
  await done;
  await worker.close();
}

test('no job, then pending with its depth, then completed (reusable only while its scores are stored), failed', async () => {
  assert.deepEqual(await snapshotJob(deps(), 'rr-none'), { state: 'none', depth: 0 });
  await queue.add('x', { outcome: 'ok' } as never, { jobId: 'rr-ok' });
  await queue.add('x', { outcome: 'ok' } as never, { jobId: 'rr-expired' });
  await queue.add('x', { outcome: 'fail' } as never, { jobId: 'rr-failed', priority: 5 });
  assert.deepEqual(await snapshotJob(deps(), 'rr-ok'), { state: 'pending', depth: 3 });
  assert.equal((await snapshotJob(deps(), 'rr-none')).depth, 3, 'depth counts waiting and prioritized jobs');

  await finish(3);
  await writeScores(redis, prefix, 'rr-ok', [0.5], 60);
  assert.deepEqual(await snapshotJob(deps(), 'rr-ok'), { state: 'reusable', result: { count: 1 }, depth: 0 });
  assert.deepEqual(await snapshotJob(deps(), 'rr-expired'), { state: 'stale', depth: 0 });
  assert.deepEqual(await snapshotJob(deps(), 'rr-failed'), { state: 'stale', depth: 0 });
});

test('inline scores: lossless up to INLINE_SCORES_MAX, absent beyond', () => {
  const scores = Array.from({ length: INLINE_SCORES_MAX }, (_, i) => Math.sin(i) / 3);
  assert.deepEqual(decodeInlineScores(inlineScores(scores)!), scores);
  assert.equal(inlineScores([...scores, 0.1]), undefined);
});

test('a burst of distinct requests is admitted up to MAX_QUEUE_DEPTH, the rest refused with QUEUE_FULL', async () => {
  const config = loadConfig({ QUEUE_PREFIX: `${QUEUE_PREFIX}-burst`, LOG_LEVEL: 'silent', MAX_QUEUE_DEPTH: '5' });
  const app = await buildApp(config);
  try {
    await app.ready();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        app.inject({
          method: 'POST',
          url: '/rerank',
          headers: { 'content-type': 'application/json', prefer: 'respond-async' },
          payload: { query: `burst ${i}`, documents: ['a'] },
        }),
      ),
    );
    const accepted = replies.filter((reply) => reply.statusCode === 202).length;
    const refused = replies.filter((reply) => reply.statusCode === 429 && reply.json().error.code === 'QUEUE_FULL');
    assert.ok(accepted >= 1 && accepted <= 5, `${accepted} accepted`);
    assert.equal(accepted + refused.length, 20);
  } finally {
    await app.close();
  }
});
