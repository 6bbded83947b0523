import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { JobWaiter, type CompletionEvents } from '../../api/services/job-waiter.ts';
import type { RerankJobResult } from '../../shared/queue.ts';

const result: RerankJobResult = {
  count: 1,
  model: 'm',
  workerId: 'w',
  timings: { queueMs: 0, tokenizeMs: 0, inferenceMs: 0 },
};

function setup() {
  const events = new EventEmitter();
  const waiter = new JobWaiter(events as unknown as CompletionEvents);
  return { events, waiter };
}

test('one shared listener per event, however many waits', async () => {
  const { events, waiter } = setup();
  const waits = Array.from({ length: 500 }, (_, i) => waiter.wait(`job-${i % 50}`, 10_000));
  assert.equal(events.listenerCount('completed'), 1);
  assert.equal(events.listenerCount('failed'), 1);
  assert.equal(waiter.size, 500);
  for (let i = 0; i < 50; i += 1) events.emit('completed', { jobId: `job-${i}`, returnvalue: result });
  const outcomes = await Promise.all(waits.map((wait) => wait.promise));
  assert.ok(outcomes.every((outcome) => outcome.status === 'completed'));
  assert.equal(waiter.size, 0, 'nothing left behind');
});

test('failed events, timeouts, cancel and release all settle and clean up', async () => {
  const { events, waiter } = setup();
  const failed = waiter.wait('a', 10_000);
  const timedOut = waiter.wait('b', 5);
  const cancelled = waiter.wait('c', 10_000);
  const released = waiter.wait('d', 10_000);
  events.emit('failed', { jobId: 'a', failedReason: 'INVALID_JOB_DATA: bad' });
  cancelled.cancel();
  assert.deepEqual(await failed.promise, { status: 'failed', failedReason: 'INVALID_JOB_DATA: bad' });
  assert.deepEqual(await timedOut.promise, { status: 'timeout' });
  waiter.releaseAll({ status: 'unavailable' });
  assert.deepEqual(await released.promise, { status: 'unavailable' });
  await cancelled.promise;
  assert.equal(waiter.size, 0);
  // Events for jobs nobody waits for are ignored, and a settled wait does not change its outcome.
  events.emit('completed', { jobId: 'a', returnvalue: result });
  assert.deepEqual(await failed.promise, { status: 'failed', failedReason: 'INVALID_JOB_DATA: bad' });
});

test('settle() from a state check resolves the waits registered for that job only', async () => {
  const { waiter } = setup();
  const mine = waiter.wait('x', 10_000);
  const other = waiter.wait('y', 20);
  waiter.settle('x', { status: 'completed', result });
  assert.equal((await mine.promise).status, 'completed');
  assert.equal((await other.promise).status, 'timeout');
});

test('close() at shutdown releases every wait as a timeout and answers later waits at once', async () => {
  const { waiter } = setup();
  const before = waiter.wait('job-1', 60_000);
  waiter.close();
  assert.deepEqual(await before.promise, { status: 'timeout' });
  const later = waiter.wait('job-2', 60_000);
  assert.deepEqual(await later.promise, { status: 'timeout' });
  assert.equal(waiter.size, 0);
});
