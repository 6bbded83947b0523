/**
 * Crash isolation and recovery with real worker processes on the shared Redis: a job that kills its worker
 * (TEST_HOOKS' __test:crash__ marker, a SIGKILL of the process) beside two innocent jobs, and a kill -9 of a
 * worker in the middle of its jobs. Workers that die are replaced, as the supervisor or a container runtime does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { jobStatus } from '../../api/services/jobs.ts';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { rerankQueueName } from '../../shared/served-models.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const connection = { host: '127.0.0.1', port: 6379 };
const BASE_PREFIX = `test-crash-${process.pid}`;

let modelDir: string;
const spawned: ServiceProcess[] = [];

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  await Promise.all(spawned.map((worker) => worker.stop('SIGKILL')));
  await deleteKeysWithPrefix(REDIS_URL, BASE_PREFIX);
});

interface Harness {
  queue: Queue<RerankJobData, RerankJobResult>;
  events: QueueEvents;
  startWorker(): Promise<ServiceProcess>;
  close(): Promise<void>;
}

async function harness(name: string, env: Record<string, string>, queueName = QUEUE_NAME): Promise<Harness> {
  const queuePrefix = `${BASE_PREFIX}-${name}`;
  const prefix = `{${queuePrefix}}`;
  const queue = new Queue<RerankJobData, RerankJobResult>(queueName, { connection, prefix });
  const events = new QueueEvents(queueName, { connection, prefix });
  await events.waitUntilReady();
  const startWorker = async () => {
    const worker = spawnService({
      entry: 'worker/main.ts',
      env: { REDIS_URL, QUEUE_PREFIX: queuePrefix, MODEL_DIR: modelDir, MODEL_NAME: 'tiny', INTRA_OP_THREADS: '1', ...env },
    });
    spawned.push(worker);
    await worker.waitForLine((line) => line.msg === 'worker ready', 60_000);
    return worker;
  };
  return { queue, events, startWorker, close: async () => void (await Promise.all([events.close(), queue.close()])) };
}

const data = (query: string, count: number): RerankJobData => ({
  query,
  documents: Array.from({ length: count }, (_, i) => `passage ${i} about what red foxes eat in winter and summer`),
  raw: false,
  model: 'tiny',
  maxLength: 64,
});

function whenActive(events: QueueEvents, jobIds: string[]): Promise<void> {
  const pending = new Set(jobIds);
  return new Promise((resolve) => {
    const onActive = ({ jobId }: { jobId: string }) => {
      pending.delete(jobId);
      if (pending.size > 0) return;
      events.off('active', onActive);
      resolve();
    };
    events.on('active', onActive);
  });
}

async function finalState(queue: Harness['queue'], id: string, timeoutMs: number): Promise<{ job: Job; state: string }> {
  return pollUntil(`job ${id} to finish`, async () => {
    const state = await queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return undefined;
    return { job: (await queue.getJob(id))!, state };
  }, timeoutMs);
}

test('a job that kills its worker fails WORKER_CRASHED; the jobs active beside it complete', async (t) => {
  // On a model other than the default, whose jobs live in a queue of their own (rerank@tiny): crashes are charged
  // in whichever queue the worker serves.
  const env = {
    SERVED_MODELS: 'other,tiny',
    TEST_HOOKS: 'true',
    WORKER_LOCK_MS: '2000',
    WORKER_STALLED_CHECK_MS: '1000',
    WORKER_CRASH_LIMIT: '1',
  };
  const h = await harness('poison', env, rerankQueueName({ SERVED_MODELS: env.SERVED_MODELS, MODEL_NAME: 'tiny' }, 'tiny'));
  let finished = false; // no replacements once the test is over (the after hook kills every worker)
  try {
    // One worker first, so that the poison and the innocents are active in the same process when it dies.
    const first = await h.startWorker();
    const innocentIds = ['innocent-1', 'innocent-2'];
    const active = whenActive(h.events, innocentIds);
    const innocents = await Promise.all(
      innocentIds.map((jobId) => h.queue.add(RERANK_JOB, data(`what foxes eat (${jobId})`, 20_000), { jobId })),
    );
    await active;
    const poison = await h.queue.add(RERANK_JOB, data('what foxes eat __test:crash__', 10));
    assert.equal(await first.waitForExit(30_000), null, 'the poison job killed its worker (SIGKILL)');

    // Keep two workers alive, replacing each that dies (bounded), until every job has finished.
    let replacements = 0;
    const keepAlive = async (): Promise<void> => {
      const worker = await h.startWorker();
      void worker.waitForExit(120_000).then(() => {
        if (!finished && replacements++ < 4) void keepAlive();
      }, () => undefined);
    };
    await Promise.all([keepAlive(), keepAlive()]);

    const poisoned = await finalState(h.queue, poison.id!, 60_000);
    assert.equal(poisoned.state, 'failed');
    assert.match(poisoned.job.failedReason, /^WORKER_CRASHED: The job stopped its worker 1 time while running alone/);
    const view = jobStatus(poisoned.job as never, 'failed');
    assert.equal(view.error?.code, 'WORKER_CRASHED', 'GET /jobs/:id reports the specific code');
    assert.match(view.error?.message ?? '', /stopped its worker 1 time/, '...and the count');
    for (const innocent of innocents) {
      const done = await finalState(h.queue, innocent.id!, 60_000);
      assert.equal(done.state, 'completed', `innocent job ${innocent.id}: ${done.job.failedReason}`);
      assert.equal((done.job.returnvalue as RerankJobResult).count, 20_000);
      assert.equal(done.job.attemptsMade, 1, 'one attempt, the one that completed: no failure was charged to it');
      assert.deepEqual(done.job.stacktrace, []);
    }
    finished = true;
    t.diagnostic(`worker replacements: ${replacements}`);
  } finally {
    finished = true;
    await h.close();
  }
});

test('kill -9 of a worker mid-load: its jobs complete on another worker (default lock and stalled check)', async (t) => {
  const h = await harness('kill', {});
  try {
    const victim = await h.startWorker();
    const jobIds = Array.from({ length: 3 }, (_, i) => `kill-${i}`);
    const active = whenActive(h.events, jobIds);
    // Long enough (~8 s of work for one worker) to still be running once the second worker has loaded its model.
    await Promise.all(jobIds.map((jobId) => h.queue.add(RERANK_JOB, data(`kill test ${jobId}`, 15_000), { jobId })));
    await active;
    const survivor = await h.startWorker();
    const survivorId = String(survivor.lines.find((line) => line.msg === 'worker ready')!.workerId);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.waitForExit(10_000);
    const interrupted = [];
    for (const jobId of jobIds) if ((await h.queue.getJobState(jobId)) === 'active') interrupted.push(jobId);
    assert.ok(interrupted.length > 0, 'some jobs were running on the killed worker');
    const finished = await Promise.all(interrupted.map((jobId) => finalState(h.queue, jobId, 120_000)));
    const recoveryMs = Math.max(...finished.map(({ job }) => job.finishedOn!)) - killedAt;
    const pickedUpMs = Math.min(...finished.map(({ job }) => job.processedOn!)) - killedAt;
    t.diagnostic(
      `kill -9 recovery: ${interrupted.length} interrupted jobs of 15,000 documents picked up again ${pickedUpMs} ms ` +
        `after the kill, all completed elsewhere after ${recoveryMs} ms`,
    );
    for (const { job, state } of finished) {
      assert.equal(state, 'completed', job.failedReason);
      assert.equal((job.returnvalue as RerankJobResult).workerId, survivorId);
    }
    // The target (15 s with the defaults) is measured in bench/; here only a generous bound on a noisy machine.
    assert.ok(pickedUpMs < 30_000, `picked up again after ${pickedUpMs} ms`);
    assert.ok(recoveryMs < 90_000, `recovered in ${recoveryMs} ms`);
  } finally {
    await h.close();
  }
});
