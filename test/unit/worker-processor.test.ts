import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import type { DocumentsList } from '../../shared/job-documents.ts';
import { createLogger } from '../../shared/logger.ts';
import { parseFailure } from '../../shared/queue.ts';
import { EngineError, type ScoreResult } from '../../worker/engine/index.ts';
import { createProcessor, jobDataProblem, type ProcessableJob } from '../../worker/processor.ts';
import { WorkerStats } from '../../worker/stats.ts';

const timings = { tokenizeMs: 2, inferenceMs: 5, batches: 1, tokens: 10, batchRows: 3 };

function setup(score: (query: string, docs: readonly string[], options?: { raw?: boolean }) => Promise<ScoreResult>) {
  const stats = new WorkerStats();
  const logger = createLogger({ LOG_LEVEL: 'silent' }, 'test');
  const stored = new Map<string, readonly number[]>();
  const storeScores = async (jobId: string, scores: readonly number[]) => void stored.set(jobId, scores);
  // Documents lists (shared/job-documents.ts) by key; the integration tests read real ones from Redis.
  const lists = new Map<string, string[]>([['docs:1', ['x', 'y']]]);
  const readDocuments = async (list: DocumentsList) => lists.get(list.key);
  const run = createProcessor({ engine: { score }, workerId: 'w-1', model: 'm', stats, logger, storeScores, readDocuments });
  return { stats, run, stored };
}

const job = (data: unknown): ProcessableJob => ({ id: 'rr-1', data, timestamp: 1_000, processedOn: 1_250 });

test('jobDataProblem accepts the job shape and names the first bad field', () => {
  assert.equal(jobDataProblem({ query: 'q', documents: ['a', 'b'], raw: false, model: 'm', maxLength: 64 }), undefined);
  assert.equal(jobDataProblem(null), 'job data must be an object');
  assert.equal(jobDataProblem({ query: 1, documents: [], raw: false }), 'query must be a string');
  assert.equal(jobDataProblem({ query: 'q', documents: 'a', raw: false }), 'documents must be an array of strings');
  assert.equal(jobDataProblem({ query: 'q', documents: ['a', 3], raw: false }), 'documents[1] must be a string');
  assert.equal(jobDataProblem({ query: 'q', documents: [], raw: 'yes' }), 'raw must be a boolean');
});

test('a job is scored in input order with its timings, and the stats record it', async () => {
  let seen: { query: string; docs: readonly string[]; raw?: boolean } | undefined;
  const { stats, run, stored } = setup(async (query, docs, options) => {
    seen = { query, docs, raw: options?.raw };
    return { scores: docs.map((_, i) => i / 10), timings };
  });
  const result = await run(job({ query: 'q', documents: ['a', 'b', 'c'], raw: true }));
  assert.deepEqual(seen, { query: 'q', docs: ['a', 'b', 'c'], raw: true });
  assert.deepEqual(stored.get('rr-1'), [0, 0.1, 0.2], 'scores go to the result key, not the return value');
  assert.equal(result.count, 3);
  assert.equal(result.workerId, 'w-1');
  assert.equal(result.model, 'm');
  assert.deepEqual(result.timings, { queueMs: 250, tokenizeMs: 2, inferenceMs: 5 });
  assert.deepEqual(stats.jobs(), { completed: 1, failed: 0, active: 0 });
  const latency = stats.latency.summary();
  assert.equal(latency.queue.p50, 250);
  assert.equal(latency.inference.count, 1);
  assert.ok(latency.total.p50 >= 250);
});

test('bad job data is unrecoverable and coded INVALID_JOB_DATA', async () => {
  const { stats, run } = setup(async () => assert.fail('engine must not run'));
  await assert.rejects(run(job({ query: 'q', documents: [1], raw: false })), (error: unknown) => {
    assert.ok(error instanceof UnrecoverableError);
    assert.deepEqual(parseFailure(error.message), { code: 'INVALID_JOB_DATA', message: 'documents[0] must be a string' });
    return true;
  });
  assert.deepEqual(stats.jobs(), { completed: 0, failed: 1, active: 0 });
});

test('a job with a documents list is scored from the list; a list that is gone is INVALID_JOB_DATA', async () => {
  let seen: readonly string[] | undefined;
  const { stats, run } = setup(async (_query, docs) => {
    seen = docs;
    return { scores: docs.map(() => 0.5), timings };
  });
  const listed = (key: string) => ({ query: 'q', documentsList: { key, count: 2, chars: 2 }, raw: false });
  assert.equal((await run(job(listed('docs:1')))).count, 2);
  assert.deepEqual(seen, ['x', 'y']);
  await assert.rejects(run(job(listed('docs:gone'))), (error: unknown) => {
    assert.ok(error instanceof UnrecoverableError);
    assert.equal(parseFailure(error.message).code, 'INVALID_JOB_DATA');
    return true;
  });
  assert.equal(jobDataProblem({ ...listed('k'), documentsList: { key: 'k' } }), 'documentsList must be {key, count, chars}');
  assert.equal(jobDataProblem({ ...listed('k'), documents: [] }), 'documents and documentsList cannot both be given');
  assert.deepEqual(stats.jobs(), { completed: 1, failed: 1, active: 0 });
});

test('an inference error is a retryable INFERENCE_FAILED', async () => {
  const { stats, run } = setup(async () => {
    throw new EngineError('INFERENCE_FAILED', 'onnx exploded');
  });
  await assert.rejects(run(job({ query: 'q', documents: ['a'], raw: false })), (error: unknown) => {
    assert.ok(error instanceof Error && !(error instanceof UnrecoverableError));
    assert.deepEqual(parseFailure(error.message), { code: 'INFERENCE_FAILED', message: 'onnx exploded' });
    return true;
  });
  assert.deepEqual(stats.jobs(), { completed: 0, failed: 1, active: 0 });
});

test('active counts jobs in flight', async () => {
  let release!: () => void;
  const { stats, run } = setup(
    () => new Promise((resolve) => (release = () => resolve({ scores: [1], timings }))),
  );
  const running = run(job({ query: 'q', documents: ['a'], raw: false }));
  assert.equal(stats.active, 1);
  release();
  await running;
  assert.equal(stats.active, 0);
});

test('active counts concurrent jobs (WORKER_CONCURRENCY > 1)', async () => {
  const releases: Array<() => void> = [];
  const { stats, run } = setup(() => new Promise((resolve) => releases.push(() => resolve({ scores: [1], timings }))));
  const running = [1, 2, 3].map(() => run(job({ query: 'q', documents: ['a'], raw: false })));
  assert.equal(stats.active, 3);
  releases[0]?.();
  await running[0];
  assert.equal(stats.active, 2);
  releases.slice(1).forEach((release) => release());
  await Promise.all(running);
  assert.equal(stats.active, 0);
  assert.equal(stats.completed, 3);
});
