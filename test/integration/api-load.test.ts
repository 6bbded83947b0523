/**
 * Waiting at scale: 1,000 concurrent sync requests over real HTTP on one API process (with a real worker) are all
 * answered 200 or 202, with no MaxListenersExceeded warning and no pending waits left behind. Prints the
 * latency of a 20-document sync request and the wall time of the burst.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';

const PREFIX = `test-api-load-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
let api: ServiceProcess;
let worker: ServiceProcess;
let base: string;

async function post(body: unknown): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${base}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const p50p99 = (sorted: number[]) =>
  `p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms`;
const documents = (seed: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${seed}: passage ${i} about queues, workers and cross-encoders`);

before(async () => {
  const modelDir = await ensureTestModel('tiny');
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'info' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0' } });
  worker = spawnService({ entry: 'worker/main.ts', env });
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('latency of a 20-document sync request, computed and reused', async () => {
  await post({ query: 'warm up', documents: documents('warm', 20) });
  const times: number[] = [];
  for (let i = 0; i < 100; i += 1) {
    const { status, ms } = await post({ query: `latency probe ${i}`, documents: documents(`l${i}`, 20) });
    assert.equal(status, 200);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  console.log(`20-doc sync request: ${p50p99(times)} (n=100)`);

  // The same requests again are answered from the retained jobs: the API's own overhead, without the worker.
  const reused: number[] = [];
  for (let i = 0; i < 100; i += 1) {
    const { status, ms } = await post({ query: `latency probe ${i}`, documents: documents(`l${i}`, 20), top_k: 3 });
    assert.equal(status, 200);
    reused.push(ms);
  }
  reused.sort((a, b) => a - b);
  console.log(`20-doc request answered from a retained job: ${p50p99(reused)} (n=100)`);
});

test('1,000 concurrent sync requests, distinct and identical mixed, are all answered without leaks', async () => {
  // 250 distinct bodies, each sent 4 times with a different top_k: 1,000 requests, 250 jobs.
  const bodies = Array.from({ length: 1_000 }, (_, i) => {
    const distinct = i % 250;
    const count = 5 + (distinct % 16);
    return { query: `burst ${distinct}`, documents: documents(`b${distinct}`, count), top_k: 1 + Math.floor(i / 250) };
  });
  const started = performance.now();
  const replies = await Promise.all(bodies.map((body) => post(body)));
  const wallMs = performance.now() - started;
  const counts = new Map<number, number>();
  for (const { status } of replies) counts.set(status, (counts.get(status) ?? 0) + 1);
  const times = replies.map((reply) => reply.ms).sort((a, b) => a - b);
  const statuses = JSON.stringify(Object.fromEntries(counts));
  console.log(`1,000 concurrent sync requests: wall ${wallMs.toFixed(0)} ms, statuses ${statuses}, ${p50p99(times)}`);
  assert.ok(replies.every(({ status }) => status === 200 || status === 202), statuses);

  const metrics = (await (await fetch(`${base}/metrics`)).json()) as {
    api: { pending_waits: number };
    workers: { latency_ms: unknown }[];
  };
  assert.equal(metrics.api.pending_waits, 0, 'every wait was removed from the waiter map');
  console.log(`worker stage latency (its last report): ${JSON.stringify(metrics.workers[0]?.latency_ms)}`);
  const output = [...api.rawOutput, ...api.lines.map((line) => JSON.stringify(line))].join('\n');
  assert.doesNotMatch(output, /MaxListenersExceeded/);
  assert.ok(!api.lines.some((line) => (line.level ?? 0) >= 50), 'no error logged');
});
