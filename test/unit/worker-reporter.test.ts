/**
 * The worker's report on the shared Redis (unique prefix): what it carries, a state change published at once
 * rather than at the next beat, and nothing left behind after close.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { createLogger } from '../../shared/logger.ts';
import { createRedisConnection } from '../../shared/queue.ts';
import { listWorkerReports } from '../../shared/worker-registry.ts';
import { WorkerReporter } from '../../worker/reporter.ts';
import { WorkerStats } from '../../worker/stats.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-reporter-${randomUUID().slice(0, 8)}`;
const prefix = `{${QUEUE_PREFIX}}`;
const redis = createRedisConnection({ REDIS_URL }, 'producer');

after(async () => {
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
  redis.disconnect();
});

test('the report carries state, counters and histograms; setState publishes at once; close removes it', async () => {
  const stats = new WorkerStats();
  stats.recordCompleted({ queue: 1, tokenize: 2, inference: 30, total: 35 }, 7);
  const reporter = new WorkerReporter({
    redis,
    prefix,
    // Longer than the test: every report after the first comes from setState.
    intervalMs: 60_000,
    identity: { workerId: 'w-1', hostname: 'h', pid: 1, model: 'm', synthetic: true, maxLength: 64, startedAt: new Date() },
    stats,
    logger: createLogger({ LOG_LEVEL: 'silent' }, 'test'),
  });
  const reports = () => listWorkerReports(redis, prefix, 180_000);

  await reporter.start();
  const [first] = await reports();
  assert.equal(first?.state, 'loading');
  assert.equal(first.pairs_scored, 7);
  assert.equal(first.histograms_seconds.inference?.count, 1);
  assert.equal(first.latency_ms.inference?.p90, 30);
  assert.ok(first.memory.heap_used_mb > 0 && first.cpu_seconds_total > 0);

  await reporter.setState('ready');
  assert.equal((await reports())[0]?.state, 'ready');
  await reporter.setState('draining');
  assert.equal((await reports())[0]?.state, 'draining');

  await reporter.close();
  await reporter.setState('recycling');
  assert.deepEqual(await reports(), [], 'no report after close, not even from a later state change');
});
