/**
 * The service unchanged on a 3-master Redis Cluster started here (REDIS_CLUSTER_NODES instead of REDIS_URL): real
 * processes (`npm start`'s supervisor with its API and worker, seeded with one node only, plus a second worker),
 * jobs sync and async, the dashboard, /ready and /metrics, the start-up probe, the queue's
 * master crashing, clean stops; and every key the service wrote lives in the one slot of its braced prefix.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisUnavailableError, ensureRedis } from '../../scripts/lib/redis-bootstrap.ts';
import { freePort } from '../../scripts/lib/free-port.ts';
import { createLogger } from '../../shared/logger.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { RedisCluster } from '../support/redis-cluster.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const QUEUE_PREFIX = `test-cluster-${randomUUID().slice(0, 8)}`;
const AUTH = `Basic ${btoa('admin:s3cret')}`;
const WORKERS = 2;

let cluster: RedisCluster;
/** scripts/start.ts: the supervisor, its API and its worker, all logging through its stdout. */
let service: ServiceProcess;
let extraWorker: ServiceProcess;
/** The two worker processes, to pause and resume them. */
let workerPids: number[];
let base: string;

const env = (nodes: string) => ({
  REDIS_CLUSTER_NODES: nodes,
  QUEUE_PREFIX,
  LOG_LEVEL: 'info',
  WORKER_HEARTBEAT_MS: '300',
  INTRA_OP_THREADS: '1',
});

interface Reply {
  status: number;
  headers: Headers;
  /** JSON of many shapes, asserted field by field. */
  body: any;
}

async function call(path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith('<') ? text : JSON.parse(text) };
}

before(async () => {
  const modelDir = await ensureTestModel('tiny');
  cluster = await RedisCluster.start(3);
  // npm start's service is given one seed node only: the client discovers the other masters itself.
  const firstNode = cluster.nodes.split(',')[0]!;
  service = spawnService({
    entry: 'scripts/start.ts',
    env: { ...env(firstNode), MODEL_DIR: modelDir, PORT: '0', DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: 's3cret' },
  });
  extraWorker = spawnService({ entry: 'worker/main.ts', env: { ...env(cluster.nodes), MODEL_DIR: modelDir } });
  const listening = await service.waitForLine((line) => line.msg === 'api listening');
  base = `http://127.0.0.1:${String(listening.port)}`;
  const ready = await Promise.all(
    [service, extraWorker].map((process) => process.waitForLine((line) => line.msg === 'worker ready', 60_000)),
  );
  workerPids = ready.map((line) => Number(line.pid));
});

after(async () => {
  for (const pid of workerPids ?? []) signal(pid, 'SIGCONT');
  await Promise.all([service?.stop('SIGTERM'), extraWorker?.stop('SIGKILL')]);
  await cluster?.stop();
});

/** kill(2) that ignores a process already gone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // exited already
  }
}

test('the cluster has 3 masters, and /ready counts both workers through it', async () => {
  for (const port of cluster.ports) assert.match(await cluster.info(port), /cluster_size:3/);
  const ready = await pollUntil('/ready 200 with both workers', async () => {
    const reply = await call('/ready');
    return reply.status === 200 && reply.body.checks.workers === WORKERS ? reply : undefined;
  });
  const { models, ...checks } = ready.body.checks;
  assert.deepEqual({ ...ready.body, checks }, { status: 'ready', checks: { redis: 'ok', workers: WORKERS } });
  assert.deepEqual(Object.values(models), [WORKERS], 'one served model, with both workers');
});

test('jobs flow: concurrent sync requests answer 200, an async one completes and is pollable', async () => {
  const requests = Array.from({ length: 12 }, (_, index) => ({
    query: `what do foxes eat ${index}`,
    documents: ['foxes eat berries and mice', 'the stock market fell', `document ${index}`],
  }));
  const replies = await Promise.all(requests.map((body) => call('/rerank', { body })));
  for (const reply of replies) {
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.rankings.length, 3);
  }
  const accepted = await call('/rerank', { body: { query: 'async on a cluster', documents: ['a', 'b'] }, headers: { prefer: 'respond-async' } });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const done = await pollUntil('async job completed', async () => {
    const reply = await call(accepted.body.status_url);
    return reply.body.status === 'completed' ? reply : undefined;
  });
  assert.equal(done.body.result.rankings.length, 2);
  // Over 1 Mi characters: its documents travel in a list beside the job (shared/job-documents.ts), in the same slot.
  const large = Array.from({ length: 1_100 }, (_, i) => `passage ${i} `.padEnd(1_000, 'foxes eat berries '));
  const listed = await call('/rerank', { body: { query: 'a large job on a cluster', documents: large } });
  assert.equal(listed.status, 200, JSON.stringify(listed.body).slice(0, 300));
  assert.equal(listed.body.rankings.length, 1_100);

  const metrics = await pollUntil('both workers report the 14 jobs', async () => {
    const reply = await call('/metrics');
    const completed = reply.body.workers?.reduce((sum: number, worker: any) => sum + worker.jobs.completed, 0);
    return reply.body.workers?.length === WORKERS && completed === 14 ? reply : undefined;
  });
  assert.equal(metrics.body.redis, 'ok');
  assert.equal(metrics.body.queue.completed, 14);
});

test('the dashboard loads behind basic auth, and its API lists the queue', async () => {
  assert.equal((await call('/admin/queues')).status, 401);
  const page = await call('/admin/queues', { headers: { authorization: AUTH } });
  assert.equal(page.status, 200);
  assert.match(page.body, /<html/i);
  const queues = await call('/admin/queues/api/queues', { headers: { authorization: AUTH } });
  assert.equal(queues.status, 200, JSON.stringify(queues.body));
  const listed = queues.body.queues as { name: string; counts: { completed: number } }[];
  assert.deepEqual(listed.map((q) => q.name).sort(), ['rerank', 'rerank-bulk', 'webhooks']);
  const queue = listed.find((q) => q.name === 'rerank')!;
  assert.ok(queue.counts.completed >= 13, JSON.stringify(queue.counts));
});

test("every key the service wrote is in its braced prefix's one slot, on one master", async () => {
  const clients = cluster.ports.map((port) => new Redis({ port }));
  try {
    const keysPerNode = await Promise.all(clients.map((client) => client.keys(`{${QUEUE_PREFIX}}*`)));
    const everything = await Promise.all(clients.map((client) => client.dbsize()));
    const keys = keysPerNode.flat();
    assert.equal(keysPerNode.filter((found) => found.length > 0).length, 1, 'all on one master');
    assert.equal(keys.length, everything.reduce((sum, size) => sum + size, 0), 'no key outside the prefix');
    for (const suffix of [':rerank:meta', ':rerank:events', ':rerank:id', ':rerank:completed', ':workers']) {
      assert.ok(keys.includes(`{${QUEUE_PREFIX}}${suffix}`), `${suffix} among ${keys.length} keys`);
    }
    const slot = await clients[0]!.cluster('KEYSLOT', `{${QUEUE_PREFIX}}`);
    for (const key of keys) assert.equal(await clients[0]!.cluster('KEYSLOT', key), slot, key);
  } finally {
    for (const client of clients) client.disconnect();
  }
});

test("npm start's Redis probe accepts a live cluster and names REDIS_CLUSTER_NODES when it does not answer", async () => {
  const logger = createLogger({ LOG_LEVEL: 'silent' }, 'test');
  const probe = { host: '127.0.0.1', port: await freePort() };
  const handle = await ensureRedis({ redisClusterNodes: cluster.nodes, probe, logger, timeoutMs: 5_000 });
  assert.equal(handle.isPrivate, false);
  const dead = `127.0.0.1:${await freePort()}`;
  await assert.rejects(
    ensureRedis({ redisClusterNodes: dead, probe, logger, timeoutMs: 1_000 }),
    (error: Error) => error instanceof RedisUnavailableError && error.message.includes(`REDIS_CLUSTER_NODES=${dead}`),
  );
});

/** The master that serves the queue's slot: the only node the service depends on. */
async function queueMaster(): Promise<number> {
  const client = new Redis({ port: cluster.ports[0] });
  try {
    const slot = (await client.cluster('KEYSLOT', `{${QUEUE_PREFIX}}`)) as number;
    const ranges = await client.cluster('SLOTS');
    const [, , [, port] = []] = ranges.find(([first, last]) => first <= slot && slot <= last) ?? [];
    assert.ok(port, `a master serves slot ${slot}`);
    return port;
  } finally {
    client.disconnect();
  }
}

test("the queue's master crashing: waits and requests answer 503 REDIS_UNAVAILABLE, then the service recovers", async () => {
  try {
    // Paused workers leave a job waiting, so that a sync request is still waiting when the master goes.
    for (const pid of workerPids) signal(pid, 'SIGSTOP');
    const started = performance.now();
    const waiting = call('/rerank', { body: { query: 'waiting through the outage', documents: ['a'] }, headers: { prefer: 'wait=30' } });
    await pollUntil('the job queued', async () => ((await call('/metrics')).body.queue?.waiting === 1 ? true : undefined));
    const master = await queueMaster();
    await cluster.killNode(master);
    const released = await waiting;
    assert.equal(released.status, 503, JSON.stringify(released.body));
    assert.equal(released.body.error.code, 'REDIS_UNAVAILABLE');
    assert.ok(performance.now() - started < 20_000, 'released when the master went, not at the end of its 30 s wait');
    const refused = await call('/rerank', { body: { query: 'during the outage', documents: ['a', 'b'] } });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'REDIS_UNAVAILABLE');
    assert.equal((await call('/ready')).body.checks.redis, 'unavailable');

    // Without persistence the restarted master comes back empty: the workers' next beats re-register them.
    await cluster.restartNodes(master);
    for (const pid of workerPids) signal(pid, 'SIGCONT');
    await pollUntil('/ready 200 with both workers again', async () => {
      const reply = await call('/ready');
      return reply.status === 200 && reply.body.checks.workers === WORKERS ? reply : undefined;
    }, 30_000);
    const served = await call('/rerank', { body: { query: 'after the outage', documents: ['a', 'b'] } });
    assert.equal(served.status, 200, JSON.stringify(served.body));
    assert.equal(served.body.rankings.length, 2);
  } finally {
    // Never leave them paused for the next tests, whatever failed above.
    for (const pid of workerPids) signal(pid, 'SIGCONT');
  }
});

test('SIGTERM stops the extra worker and npm start (API and worker) cleanly, and the workers leave the registry', async () => {
  assert.equal(await extraWorker.stop('SIGTERM'), 0);
  const ready = await pollUntil('/ready with one worker', async () => {
    const reply = await call('/ready');
    return reply.body.checks?.workers === 1 ? reply : undefined;
  });
  assert.equal(ready.status, 200);
  assert.equal(await service.stop('SIGTERM'), 0);
  const stopped = service.lines.filter((line) => ['worker stopped', 'api closed'].includes(String(line.msg)));
  assert.equal(stopped.length, 2, 'both children closed gracefully');
  const master = new Redis({ port: await queueMaster() });
  try {
    assert.equal(await master.zcard(`{${QUEUE_PREFIX}}:workers`), 0);
  } finally {
    master.disconnect();
  }
});
