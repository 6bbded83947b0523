/** The pure parts of the worker's operations: who may run at once, the memory verdicts, failure parsing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFailure } from '../../shared/queue.ts';
import { crashedMessage } from '../../worker/job-runner.ts';
import { judgeMemory, type MemoryState } from '../../worker/memory-watchdog.ts';
import { HeldDocuments } from '../../worker/held-documents.ts';
import { Intake } from '../../worker/intake.ts';
import { settleAll } from '../../worker/shutdown.ts';
import pino from 'pino';
import { SoloLane } from '../../worker/solo-lane.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test('solo lane: shared runs overlap; an exclusive run waits for them and runs alone; later shared runs wait', async () => {
  const events: string[] = [];
  const lane = new SoloLane({ onExclusiveWanted: () => events.push('wanted'), onExclusiveDone: () => events.push('done') });
  const a = gate();
  const b = gate();
  const x = gate();
  const log: string[] = [];
  const run = (name: string, g: { opened: Promise<void> }) => async () => {
    log.push(`${name} start`);
    await g.opened;
    log.push(`${name} end`);
  };
  const sharedA = lane.shared(run('a', a));
  const exclusive = lane.exclusive(run('x', x));
  const sharedB = lane.shared(run('b', b));
  await Promise.resolve();
  assert.deepEqual(log, ['a start'], 'x waits for a; b queues behind x');
  assert.deepEqual(events, ['wanted']);
  a.open();
  await sharedA;
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(log, ['a start', 'a end', 'x start']);
  x.open();
  await exclusive;
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(log.slice(3), ['x end', 'b start']);
  assert.deepEqual(events, ['wanted', 'done']);
  b.open();
  await sharedB;
});

test('solo lane: a failing run releases the lane', async () => {
  const lane = new SoloLane();
  await assert.rejects(lane.exclusive(async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await lane.shared(async () => 'next'), 'next');
  assert.equal(lane.exclusiveDemand, 0);
});

const state = (over: Partial<MemoryState>): MemoryState => ({
  rssMb: 100,
  capMb: 400,
  activeJobs: 1,
  held: false,
  finishedJobs: 5,
  ...over,
});

test('memory: hold at 85% of the cap, release below 80%, recycle at the cap or when idle above the mark', () => {
  assert.equal(judgeMemory(state({ rssMb: 339 })), 'ok');
  assert.equal(judgeMemory(state({ rssMb: 340 })), 'hold');
  assert.equal(judgeMemory(state({ rssMb: 330, held: true })), 'hold', 'hysteresis');
  assert.equal(judgeMemory(state({ rssMb: 319, held: true })), 'ok');
  assert.equal(judgeMemory(state({ rssMb: 400 })), 'recycle');
  assert.equal(judgeMemory(state({ rssMb: 350, activeJobs: 0 })), 'recycle', 'nothing left that could bring it down');
  assert.equal(judgeMemory(state({ rssMb: 350, activeJobs: 0, finishedJobs: 0 })), 'ok', 'a cap below the idle model');
});

test("BullMQ's stall limit and the worker's own give-up both read as WORKER_CRASHED", () => {
  assert.equal(parseFailure('job stalled more than allowable limit').code, 'WORKER_CRASHED');
  assert.deepEqual(parseFailure(`WORKER_CRASHED: ${crashedMessage(2)}`), {
    code: 'WORKER_CRASHED',
    message: 'The job stopped its worker 2 times while running alone; it was given up.',
  });
  assert.equal(parseFailure('something else').code, 'INTERNAL_ERROR');
});

test('held documents: past the text budget the worker fetches no more; it fetches again as jobs end', () => {
  const worker = { concurrency: 8 };
  const documents = new HeldDocuments(100);
  const held = documents.register(worker, 8);
  const job = (id: string, chars: number) => ({ id, data: { documents: ['x'.repeat(chars)] } });
  held.add(job('small', 10));
  assert.equal(worker.concurrency, 8);
  held.add(job('big-1', 60));
  held.add(job('big-2', 60));
  assert.equal(worker.concurrency, 3, 'no more than the three jobs it holds');
  held.release('big-1');
  assert.equal(worker.concurrency, 8);
  held.release('small');
  held.release('big-2');
  held.add(job('huge', 500));
  assert.equal(worker.concurrency, 1, 'a job larger than the budget still runs, alone');
  assert.equal(documents.chars, 500);
  held.release('huge');
  // A job whose documents are in a list (shared/job-documents.ts) counts the text it is about to read.
  held.add({ id: 'listed', data: { documentsList: { key: 'k', count: 3, chars: 150 } } });
  assert.equal(documents.chars, 150);
  assert.equal(worker.concurrency, 1);
});

test('held documents: one budget across the /rerank worker and the bulk worker; chunks count their segments', () => {
  const rerankWorker = { concurrency: 8 };
  const bulkWorker = { concurrency: 2 };
  const documents = new HeldDocuments(100);
  const rerank = documents.register(rerankWorker, 8);
  const bulk = documents.register(bulkWorker, 2);
  const chunk = { id: 'bj-1:0', data: { segments: [{ documents: ['x'.repeat(40)] }, { documents: ['y'.repeat(30)] }] } };
  bulk.add(chunk);
  assert.equal(documents.chars, 70);
  assert.deepEqual([rerankWorker.concurrency, bulkWorker.concurrency], [8, 2]);
  rerank.add({ id: 'rr-1', data: { documents: ['z'.repeat(40)] } });
  assert.deepEqual([rerankWorker.concurrency, bulkWorker.concurrency], [1, 1], 'each holds one: neither fetches more');
  bulk.release('bj-1:0');
  assert.deepEqual([rerankWorker.concurrency, bulkWorker.concurrency], [8, 2]);
  rerank.release('bj-1:0'); // another worker's job: nothing to release here
  assert.equal(documents.chars, 40);
});

test('intake: a hold pauses every consumer of the process (/rerank and bulk) until the last reason is released', () => {
  const calls: string[] = [];
  const consumer = (name: string) => ({
    pause: async () => void calls.push(`${name} pause`),
    resume: () => void calls.push(`${name} resume`),
  });
  const intake = new Intake([consumer('rerank'), consumer('bulk')], pino({ level: 'silent' }));
  intake.hold('memory');
  intake.hold('solo');
  assert.deepEqual(calls, ['rerank pause', 'bulk pause']);
  intake.release('memory');
  assert.equal(calls.length, 2, 'still held for the solo run');
  intake.release('solo');
  assert.deepEqual(calls.slice(2), ['rerank resume', 'bulk resume']);
  intake.stop();
  intake.hold('memory');
  intake.release('memory');
  assert.equal(calls.length, 4, 'a stopped intake never resumes');
});

test('settleAll waits for every piece of work, then throws the first failure', async () => {
  let slowDone = false;
  const slow = new Promise<void>((resolve) => setImmediate(() => resolve(void (slowDone = true))));
  await assert.rejects(settleAll([Promise.reject(new Error('first')), slow, undefined]), /first/);
  assert.ok(slowDone, 'the slow piece finished before the failure was thrown');
  await settleAll([slow, undefined]);
});
