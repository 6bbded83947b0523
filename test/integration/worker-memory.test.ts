/**
 * The memory cap with real processes under `npm start`: a job that really grows the worker's RSS past
 * WORKER_MAX_RSS_MB (TEST_HOOKS' __test:hold-mb=N__ marker holds N MB of touched memory while it is scored) is
 * finished, the worker logs the recycle with the figure, exits 75, and the supervisor starts a fresh one at once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { RECYCLE_EXIT_CODE } from '../../worker/memory-watchdog.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type LogLine, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-memory-${process.pid}`;
const CAP_MB = 300;
const spawned: ServiceProcess[] = [];
let modelDir: string;

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  await Promise.all(spawned.map((service) => service.stop('SIGKILL')));
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

const data = (query: string): RerankJobData => ({
  query,
  documents: Array.from({ length: 10_000 }, (_, i) => `passage ${i} about what red foxes eat in winter`),
  raw: false,
  model: 'tiny',
  maxLength: 64,
});

const isReady = (line: LogLine) => line.msg === 'worker ready';

test('a job that pushes RSS past the cap completes; the worker recycles (exit 75) and a fresh one takes over', async () => {
  const queue = new Queue<RerankJobData, RerankJobResult>(QUEUE_NAME, {
    connection: { host: '127.0.0.1', port: 6379 },
    prefix: `{${QUEUE_PREFIX}}`,
  });
  try {
    const service = spawnService({
      entry: 'scripts/start.ts',
      env: {
        REDIS_URL,
        QUEUE_PREFIX,
        MODEL_DIR: modelDir,
        MODEL_NAME: 'tiny',
        PORT: '0',
        INTRA_OP_THREADS: '1',
        TEST_HOOKS: 'true',
        WORKER_MAX_RSS_MB: String(CAP_MB),
      },
    });
    spawned.push(service);
    const first = await service.waitForLine(isReady, 60_000);

    // The tiny model's worker idles far below 300 MB; 350 MB more is past the cap whatever it idles at.
    const heavy = await queue.add(RERANK_JOB, data('what foxes eat __test:hold-mb=350__'), { jobId: 'heavy' });
    const recycling = await service.waitForLine((line) => /worker recycling/.test(String(line.msg)), 60_000);
    assert.ok(Number(recycling.rssMb) >= CAP_MB, `logged with the figure that caused it: ${recycling.rssMb} MB`);
    assert.equal(recycling.capMb, CAP_MB);

    const done = await pollUntil('the heavy job to finish', async () => {
      const job = await queue.getJob(heavy.id!);
      return job?.finishedOn ? job : undefined;
    }, 60_000);
    assert.equal(await done.getState(), 'completed', 'finished, not failed nor lost');
    assert.equal(done.returnvalue.workerId, first.workerId, 'by the worker that was recycling');

    const exited = await service.waitForLine((line) => line.child === 'worker' && line.code === RECYCLE_EXIT_CODE, 30_000);
    assert.match(String(exited.msg), /recycled itself/);
    const second = await service.waitForLine((line) => isReady(line) && line.pid !== first.pid, 60_000);
    const next = await queue.add(RERANK_JOB, data('what foxes eat, after the recycle'), { jobId: 'after-recycle' });
    const nextDone = await pollUntil('the next job to complete', async () => {
      const job = await queue.getJob(next.id!);
      return job?.finishedOn ? job : undefined;
    }, 60_000);
    assert.equal(nextDone.returnvalue.workerId, second.workerId);
    assert.equal(await service.stop('SIGTERM'), 0);
  } finally {
    await queue.close();
  }
});
