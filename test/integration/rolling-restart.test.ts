/**
 * A rolling restart under load with real processes: while clients send requests through a tiny client-side
 * balancer (which moves on to the other instance on a 503 or a refused connection, as a load balancer does), a
 * second API starts and the first is stopped, then a second worker starts and the first is stopped. Every request
 * ends 200, or 202 and then completed; every job runs exactly once (one 'active' and one 'completed' event each).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { QueueEvents } from 'bullmq';
import { QUEUE_NAME } from '../../shared/queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = `test-rolling-${process.pid}`;
const CLIENTS = 4;
const MAX_REQUESTS = 400;
const spawned: ServiceProcess[] = [];
let modelDir: string;

before(async () => {
  modelDir = await ensureTestModel('tiny');
});

after(async () => {
  await Promise.all(spawned.map((service) => service.stop('SIGKILL')));
  await deleteKeysWithPrefix(REDIS_URL, QUEUE_PREFIX);
});

const env = () => ({ REDIS_URL, QUEUE_PREFIX, MODEL_DIR: modelDir, INTRA_OP_THREADS: '1', PORT: '0', SYNC_TIMEOUT_MS: '2000' });

async function startApi(): Promise<{ service: ServiceProcess; base: string }> {
  const service = spawnService({ entry: 'api/main.ts', env: env() });
  spawned.push(service);
  const port = (await service.waitForLine((line) => line.msg === 'api listening')).port;
  return { service, base: `http://127.0.0.1:${String(port)}` };
}

async function startWorker(): Promise<ServiceProcess> {
  const service = spawnService({ entry: 'worker/main.ts', env: env() });
  spawned.push(service);
  await service.waitForLine((line) => line.msg === 'worker ready', 60_000);
  return service;
}

/** Sends to the instances in turn; a 503 or a connection error moves on to the next one (bounded tries). */
class Balancer {
  bases: string[] = [];
  private next = 0;
  retries = 0;

  async send(path: string, init?: RequestInit): Promise<Response> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const base = this.bases[this.next++ % this.bases.length]!;
      try {
        const response = await fetch(`${base}${path}`, init);
        if (response.status !== 503) return response;
        const body = (await response.json()) as { error: { code: string } };
        assert.ok(response.headers.get('retry-after'), `503 ${body.error.code} without Retry-After`);
      } catch {
        // refused or reset: that instance is gone; try the next
      }
      this.retries += 1;
    }
    throw new Error(`no instance answered ${path}`);
  }
}

test('rolling restart of API then worker under load: nothing lost, nothing computed twice', async (t) => {
  const events = new QueueEvents(QUEUE_NAME, { connection: { host: '127.0.0.1', port: 6379 }, prefix: `{${QUEUE_PREFIX}}` });
  await events.waitUntilReady();
  const actives = new Map<string, number>();
  const completions = new Map<string, number>();
  events.on('active', ({ jobId }) => actives.set(jobId, (actives.get(jobId) ?? 0) + 1));
  events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  try {
    const api1 = await startApi();
    const worker1 = await startWorker();
    const balancer = new Balancer();
    balancer.bases = [api1.base];

    let sent = 0;
    let restarting = true;
    const outcomes: Record<string, number> = {};
    const client = async (c: number) => {
      while ((restarting || sent < CLIENTS * 5) && sent < MAX_REQUESTS) {
        const i = sent++;
        const documents = Array.from({ length: 200 }, (_, d) => `client ${c} request ${i} passage ${d} about foxes`);
        const reply = await balancer.send('/rerank', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `rolling ${i}`, documents }),
        });
        const body = (await reply.json()) as { status_url?: string; rankings?: unknown[] };
        if (reply.status === 200) {
          assert.equal(body.rankings?.length, 200);
          outcomes['200'] = (outcomes['200'] ?? 0) + 1;
          continue;
        }
        assert.equal(reply.status, 202, JSON.stringify(body));
        await pollUntil(`request ${i} to complete`, async () => {
          const job = (await (await balancer.send(body.status_url!)).json()) as { status: string };
          assert.notEqual(job.status, 'failed');
          return job.status === 'completed' ? true : undefined;
        }, 60_000);
        outcomes['202 then completed'] = (outcomes['202 then completed'] ?? 0) + 1;
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    // API: the new one first, then stop the old one while requests keep coming.
    const api2 = await startApi();
    balancer.bases = [api1.base, api2.base];
    assert.equal(await api1.service.stop('SIGTERM'), 0);
    balancer.bases = [api2.base];
    // Worker: the same.
    await startWorker();
    assert.equal(await worker1.stop('SIGTERM'), 0);
    restarting = false;
    await load;

    t.diagnostic(`requests ${sent}: ${JSON.stringify(outcomes)}; balancer moved on ${balancer.retries} times`);
    assert.equal((outcomes['200'] ?? 0) + (outcomes['202 then completed'] ?? 0), sent, 'every request ended well');
    await pollUntil('every completion event', async () => (completions.size >= sent ? true : undefined), 10_000);
    assert.equal(completions.size, sent, 'one job per request');
    for (const [jobId, count] of completions) assert.equal(count, 1, `job ${jobId} completed ${count} times`);
    for (const [jobId, count] of actives) assert.equal(count, 1, `job ${jobId} was started ${count} times`);
  } finally {
    await events.close();
  }
});
