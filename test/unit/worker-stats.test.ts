import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyWindow, STAGE_BUCKETS_SECONDS, StageHistograms, WorkerStats, percentile } from '../../worker/stats.ts';
import { closeInSteps } from '../../worker/shutdown.ts';
import { throttledErrorLog } from '../../worker/throttle.ts';
import { createLogger } from '../../shared/logger.ts';

test('percentile is nearest-rank', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), 0);
});

test('the latency window keeps only the most recent jobs', () => {
  const window = new LatencyWindow(10);
  for (let i = 1; i <= 25; i++) window.record({ queue: i, tokenize: i, inference: i, total: i });
  const summary = window.summary();
  assert.equal(summary.total.count, 10);
  assert.equal(summary.total.p50, 20); // window holds 16..25
  assert.equal(summary.total.p99, 25);
});

test('stage histograms are cumulative, in seconds, with the fixed buckets', () => {
  const histograms = new StageHistograms();
  histograms.record({ queue: 0.5, tokenize: 1, inference: 40, total: 45 });
  histograms.record({ queue: 3, tokenize: 1, inference: 400_000, total: 400_010 });
  const { queue, inference } = histograms.snapshot();
  assert.deepEqual(queue.le, [...STAGE_BUCKETS_SECONDS]);
  assert.deepEqual(queue.counts.slice(0, 3), [1, 1, 2]); // 0.5 ms <= 1 ms; 3 ms <= 5 ms
  assert.equal(queue.counts.at(-1), 2);
  assert.equal(queue.count, 2);
  assert.ok(Math.abs(queue.sum - 0.0035) < 1e-12);
  assert.equal(inference.counts.at(-1), 1, '400 s is beyond the last bucket: only +Inf (count) holds it');
  assert.equal(inference.count, 2);
});

test('a completed job counts its pairs and feeds both the window and the histograms', () => {
  const stats = new WorkerStats();
  stats.recordCompleted({ queue: 1, tokenize: 2, inference: 3, total: 6 }, 20);
  stats.recordCompleted({ queue: 1, tokenize: 2, inference: 3, total: 6 }, 5);
  assert.equal(stats.pairsScored, 25);
  assert.equal(stats.completed, 2);
  assert.equal(stats.latency.summary().inference.p90, 3);
  assert.equal(stats.histograms.snapshot().total.count, 2);
});

test('close runs every step even when one fails, once', async () => {
  const ran: string[] = [];
  const close = closeInSteps(
    [
      { name: 'a', run: () => void ran.push('a') },
      { name: 'b', run: async () => { ran.push('b'); throw new Error('boom'); } },
      { name: 'c', run: () => void ran.push('c') },
    ],
    createLogger({ LOG_LEVEL: 'silent' }, 'test'),
  );
  const [first, second] = await Promise.all([close(), close()]);
  assert.equal(first, false);
  assert.equal(second, false);
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('a repeated error is logged once per window, with the count suppressed', () => {
  const logged: unknown[] = [];
  const logger = createLogger({ LOG_LEVEL: 'silent' }, 'test');
  logger.error = ((fields: unknown) => void logged.push(fields)) as typeof logger.error;
  const log = throttledErrorLog(logger, 'worker error', 60_000);
  for (let i = 0; i < 5; i++) log(new Error('connect ECONNREFUSED'));
  log(new Error('something else'));
  assert.equal(logged.length, 2);
});
