/** A Redis outage costs the worker reports, not its life: it logs once, carries on, and serves jobs afterwards. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

let redis: PrivateRedis | undefined;
let worker: ServiceProcess | undefined;

after(async () => {
  await worker?.stop('SIGKILL');
  await redis?.stop();
});

test('the worker survives Redis going away and coming back', async () => {
  redis = await PrivateRedis.start();
  worker = spawnService({
    entry: 'worker/main.ts',
    env: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'outage',
      MODEL_DIR: await ensureTestModel('tiny'),
      // The name its jobs below carry: a worker refuses jobs for another model.
      MODEL_NAME: 'tiny',
      INTRA_OP_THREADS: '1',
      WORKER_HEARTBEAT_MS: '100',
    },
  });
  await worker.waitForLine((line) => line.msg === 'worker ready');

  await redis.stop();
  await worker.waitForLine((line) => /worker report not published/.test(String(line.msg)), 10_000);
  await redis.start();
  await worker.waitForLine((line) => line.msg === 'worker report published again', 15_000);
  assert.equal(worker.child.exitCode, null, 'still running');
  const failures = worker.lines.filter((line) => /worker report not published/.test(String(line.msg)));
  assert.equal(failures.length, 1, 'one warning per outage, not one per beat');

  const connection = { host: '127.0.0.1', port: redis.port };
  const queue = new Queue<RerankJobData, RerankJobResult>(QUEUE_NAME, { connection, prefix: '{outage}' });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: '{outage}' });
  try {
    await events.waitUntilReady();
    const job = await queue.add(RERANK_JOB, { query: 'q', documents: ['a', 'b'], raw: false, model: 'tiny', maxLength: 64 });
    const result = await job.waitUntilFinished(events, 30_000);
    assert.equal(result.count, 2);
  } finally {
    await events.close();
    await queue.close();
  }
  assert.equal(await worker.stop('SIGTERM'), 0);
});
