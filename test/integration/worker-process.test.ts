/**
 * The worker as a real process on the shared Redis: jobs added with a plain BullMQ Queue, results compared with
 * the engine run in-process, the registry report, and what each way of stopping it leaves behind.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import type { WorkerReport } from '../../shared/worker-registry.ts';
import { readScores } from '../../shared/results.ts';
import { loadEngine } from '../../worker/engine/index.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-worker-${process.pid}`;
const PREFIX = `{${QUEUE_PREFIX}}`;
const HEARTBEAT_MS = 200;
const connection = { host: '127.0.0.1', port: 6379 };

let modelDir: string;
let redis: Redis;
let queue: Queue<RerankJobData, RerankJobResult>;
let events: QueueEvents;
const workers: ServiceProcess[] = [];
/** The worker the first tests share; later tests start their own to stop it. */
let shared: ServiceProcess | undefined;

async function startWorker(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const worker = spawnService({
    entry: 'worker/main.ts',
    env: {
      REDIS_URL,
      QUEUE_PREFIX,
      MODEL_DIR: modelDir,
      INTRA_OP_THREADS: '1',
      WORKER_HEARTBEAT_MS: String(HEARTBEAT_MS),
      ...env,
    },
  });
  workers.push(worker);
  await worker.waitForLine((line) => line.msg === 'worker ready');
  return worker;
}

/** Jobs for this worker's model: MODEL_NAME defaults to the model directory's name. */
const data = (documents: string[], raw = false): RerankJobData => ({ query: 'what do foxes eat', documents, raw, model: basename(modelDir), maxLength: 64 });

async function readReport(workerId: string): Promise<WorkerReport | undefined> {
  const value = await redis.get(`${PREFIX}:workers:${workerId}`);
  return value === null ? undefined : (JSON.parse(value) as WorkerReport);
}

before(async () => {
  modelDir = await ensureTestModel('tiny');
  redis = new Redis(REDIS_URL);
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
  queue = new Queue(QUEUE_NAME, { connection, prefix: PREFIX });
  events = new QueueEvents(QUEUE_NAME, { connection, prefix: PREFIX });
  await events.waitUntilReady();
});

after(async () => {
  await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
  await events.close();
  await queue.close();
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
  redis.disconnect();
});

test('a queued job is scored like the engine scores it in-process, in input order, and reported', async () => {
  const worker = (shared ??= await startWorker());
  const ready = worker.lines.find((line) => line.msg === 'worker ready')!;
  assert.equal(ready.synthetic, true);
  assert.equal(ready.maxLength, 64);
  assert.ok(worker.lines.some((line) => line.level === 40 && /meaningless/.test(String(line.msg))), 'synthetic warning');
  const workerId = String(ready.workerId);

  const documents = [
    'Foxes are omnivores: they eat rodents, birds, insects and berries.',
    'The stock market closed higher today.',
    'fox',
    'A long document about the diet of the red fox '.repeat(20),
    '',
  ];
  const job = await queue.add(RERANK_JOB, data(documents));
  const result = await job.waitUntilFinished(events, 30_000);

  const engine = await loadEngine({ modelDir, maxLength: 64, intraOpThreads: 1 });
  try {
    const expected = await engine.score('what do foxes eat', documents, { raw: false });
    assert.equal(result.count, documents.length);
    const scores = (await readScores(redis, PREFIX, job.id!))!;
    scores.forEach((score, i) => assert.ok(Math.abs(score - expected.scores[i]!) < 1e-5, `score ${i}`));
    const rawJob = await queue.add(RERANK_JOB, data(documents, true));
    await rawJob.waitUntilFinished(events, 30_000);
    const expectedRaw = await engine.score('what do foxes eat', documents, { raw: true });
    const raw = (await readScores(redis, PREFIX, rawJob.id!))!;
    raw.forEach((score, i) => assert.ok(Math.abs(score - expectedRaw.scores[i]!) < 1e-4, `raw score ${i}`));
  } finally {
    await engine.close();
  }
  assert.equal(result.workerId, workerId);
  assert.equal(result.model, modelDir.split('/').at(-1));
  assert.ok(result.timings.queueMs >= 0 && result.timings.inferenceMs > 0);

  const report = await pollUntil('a report counting 2 completed jobs', async () => {
    const current = await readReport(workerId);
    return current && current.jobs.completed >= 2 ? current : undefined;
  }, 5_000);
  assert.equal(report.worker_id, workerId);
  assert.equal(report.model_synthetic, true);
  assert.equal(report.max_length, 64);
  assert.ok(report.memory.rss_mb > 0 && report.memory.vms_mb > 0, 'the seed memory fields');
  assert.equal(typeof report.cpu_percent, 'number');
  assert.ok(report.num_threads >= 1);
  assert.deepEqual(Object.keys(report.latency_ms).sort(), ['inference', 'queue', 'tokenize', 'total']);
  assert.equal(report.latency_ms.total!.count, 2);
  assert.ok(Date.parse(report.started_at) <= Date.parse(report.reported_at));
  assert.ok((await redis.zscore(`${PREFIX}:workers`, workerId)) !== null, 'indexed');
});

test('bad job data fails at once, without retries, coded INVALID_JOB_DATA', async () => {
  shared ??= await startWorker();
  const job = await queue.add(RERANK_JOB, { query: 'q', documents: ['ok', 42] } as unknown as RerankJobData, {
    attempts: 3,
    backoff: { type: 'fixed', delay: 10 },
  });
  await assert.rejects(job.waitUntilFinished(events, 10_000), /^Error: INVALID_JOB_DATA/);
  const failed = (await queue.getJob(job.id!)) as Job;
  assert.equal(await failed.getState(), 'failed');
  assert.equal(failed.attemptsMade, 1);
  assert.match(failed.failedReason, /^INVALID_JOB_DATA: documents\[1\] must be a string/);
});

test('SIGKILL: the report drops out by itself within its TTL', async () => {
  const worker = await startWorker();
  const workerId = String(worker.lines.find((line) => line.msg === 'worker ready')!.workerId);
  assert.ok(await readReport(workerId), 'published before ready');
  await worker.stop('SIGKILL');
  const killedAt = Date.now();
  await pollUntil('the report to expire', async () => ((await readReport(workerId)) ? undefined : true), HEARTBEAT_MS * 3 + 2_000);
  assert.ok(Date.now() - killedAt <= HEARTBEAT_MS * 3 + 2_000);
});

test('SIGTERM during a job: the job completes, then the worker leaves the registry and exits 0', async () => {
  for (const worker of workers) await worker.stop('SIGKILL');
  const worker = await startWorker();
  const workerId = String(worker.lines.find((line) => line.msg === 'worker ready')!.workerId);
  // ~2 s of inference for the tiny model on one thread: long enough to be caught active.
  const documents = Array.from({ length: 20_000 }, (_, i) => `passage ${i} about what red foxes eat in winter and summer`);
  const job = await queue.add(RERANK_JOB, data(documents));
  const active = new Promise<void>((resolve) => {
    const onActive = ({ jobId }: { jobId: string }) => {
      if (jobId !== job.id) return;
      events.off('active', onActive);
      resolve();
    };
    events.on('active', onActive);
  });
  await active;
  const signalledAt = Date.now();
  worker.child.kill('SIGTERM');
  const result = await job.waitUntilFinished(events, 60_000);
  assert.equal(result.count, documents.length);
  assert.equal(await worker.waitForExit(30_000), 0);
  const finished = (await queue.getJob(job.id!))!;
  assert.equal(await finished.getState(), 'completed');
  assert.ok(finished.finishedOn! >= signalledAt, 'the job was still running when SIGTERM arrived');
  assert.equal(await readReport(workerId), undefined, 'graceful close removes the report');
  assert.equal(await redis.zscore(`${PREFIX}:workers`, workerId), null);
  assert.ok(worker.lines.some((line) => line.msg === 'worker stopped'));
});

test('without a model the worker exits 1 and says how to get one', async () => {
  const worker = spawnService({
    entry: 'worker/main.ts',
    env: { REDIS_URL, QUEUE_PREFIX, MODEL_DIR: '/nonexistent/rerank-model' },
  });
  workers.push(worker);
  assert.equal(await worker.waitForExit(30_000), 1);
  const fatal = worker.lines.find((line) => line.level === 60);
  assert.ok(fatal, worker.rawOutput.join('\n'));
  assert.match(String(fatal.msg), /\/nonexistent\/rerank-model/);
  assert.match(String(fatal.msg), /npm run model:fetch/);
  assert.match(String(fatal.msg), /npm run demo/);
});
