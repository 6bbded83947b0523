/**
 * Redis goes away and comes back: a private redis-server on a free port, stopped and restarted by the test.
 * The API answers 503 fast while it is down (no hanging request, waiting ones included) and recovers by itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pollUntil } from '../support/poll.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

let redis: PrivateRedis;
let api: ServiceProcess;
let base: string;

async function call(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, any>; // JSON of several shapes
  return { status: response.status, headers: response.headers, body: json, ms: performance.now() - started };
}

before(async () => {
  redis = await PrivateRedis.start();
  api = spawnService({
    entry: 'api/main.ts',
    env: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'test-api-redis-down',
      PORT: '0',
      LOG_LEVEL: 'info',
      SYNC_TIMEOUT_MS: '20000',
      MAX_SYNC_WAIT_MS: '20000',
    },
  });
  const listening = await api.waitForLine((line) => line.msg === 'api listening');
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await api?.stop();
  await redis?.stop();
});

test('started while Redis is down, the API serves /health, refuses work with 503, and recovers when it comes', async () => {
  await redis.stop();
  const other = spawnService({
    entry: 'api/main.ts',
    env: { REDIS_URL: redis.url, QUEUE_PREFIX: 'test-api-redis-down', PORT: '0', LOG_LEVEL: 'info' },
  });
  try {
    const listening = await other.waitForLine((line) => line.msg === 'api listening');
    const otherBase = `http://127.0.0.1:${String(listening.port)}`;
    const post = (headers: Record<string, string> = {}) =>
      fetch(`${otherBase}/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: 'booted without redis', documents: ['a'] }),
      });
    assert.equal((await fetch(`${otherBase}/health`)).status, 200);
    assert.equal((await post()).status, 503);
    await redis.start();
    const accepted = async () => (await post({ prefer: 'respond-async' })).status === 202;
    await pollUntil('the API to reach Redis', async () => ((await accepted()) ? true : undefined));
    const warnings = other.lines.filter((line) => line.msg === 'redis unreachable; requests that need it answer 503 until it is back');
    assert.equal(warnings.length, 1, 'one warning while Redis is unreachable, not one per reconnect attempt');
    assert.equal(warnings[0]?.level, 40);
    assert.equal(warnings[0]?.redis, `127.0.0.1:${redis.port}`);
    await other.waitForLine((line) => line.msg === 'redis reachable again');
    assert.equal(other.lines.filter((line) => line.msg === 'redis reachable again').length, 1);
  } finally {
    await other.stop();
  }
});

test('Redis down: a waiting request is released, new ones get 503 within 100 ms; then the API recovers', async () => {
  // The previous test restarted Redis: this API may still be between two reconnect attempts.
  const accepted = await pollUntil('the API to be connected', async () => {
    const reply = await call('/rerank', { query: 'before', documents: ['a'] }, { prefer: 'respond-async' });
    return reply.status === 202 ? reply : undefined;
  });

  // No worker: this request waits for its job until Redis goes away.
  const waiting = call('/rerank', { query: 'waiting', documents: ['a'] });
  const pendingWaits = async () => (await call('/metrics')).body.api.pending_waits as number;
  await pollUntil('the request to be waiting', async () => ((await pendingWaits()) === 1 ? true : undefined));
  const stoppedAt = performance.now();
  await redis.stop();
  const released = await waiting;
  assert.equal(released.status, 503);
  assert.equal(released.body.error.code, 'REDIS_UNAVAILABLE');
  assert.ok(performance.now() - stoppedAt < 1_000, `released ${performance.now() - stoppedAt} ms after Redis stopped`);

  const times: number[] = [];
  for (let i = 0; i < 10; i += 1) {
    const refused = await call('/rerank', { query: `down ${i}`, documents: ['a', 'b'] });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, {
      error: { code: 'REDIS_UNAVAILABLE', message: 'The job queue is unreachable; retry later.' },
    });
    assert.equal(refused.headers.get('retry-after'), '1');
    times.push(refused.ms);
  }
  console.log(`503 while Redis is down: ${times.map((t) => t.toFixed(1)).join(" ")} ms`);
  assert.ok(Math.max(...times) < 100, `503s took up to ${Math.max(...times)} ms`);

  const job = await call(String(accepted.body.status_url));
  assert.equal(job.status, 503);
  assert.ok(job.ms < 100);
  assert.equal((await call('/health')).status, 200, '/health does not touch Redis');
  const ready = await call('/ready');
  assert.equal(ready.status, 503);
  assert.equal(ready.body.checks.redis, 'unavailable');
  assert.ok(ready.ms < 100);
  const metrics = await call('/metrics');
  assert.equal(metrics.status, 200);
  assert.equal(metrics.body.redis, 'unavailable');
  assert.ok(metrics.body.memory.rss_mb > 0, 'the process metrics do not need Redis');

  await redis.start();
  const recovered = await pollUntil('the API to recover', async () => {
    const reply = await call('/rerank', { query: 'after', documents: ['a'] }, { prefer: 'respond-async' });
    return reply.status === 202 ? reply : undefined;
  });
  assert.match(String(recovered.body.job_id), /^rq-/);
  assert.equal((await call('/ready')).body.checks.redis, 'ok');
  assert.equal((await call('/metrics')).body.api.pending_waits, 0);
  assert.ok(api.lines.some((line) => line.msg === 'redis connection lost'));
  assert.ok(!api.lines.some((line) => (line.level ?? 0) >= 50), 'no error logs for an outage');
  assert.ok(!api.rawOutput.some((line) => line.includes('Unhandled error')), api.rawOutput.join('\n'));
});
