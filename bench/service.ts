/**
 * Service benchmark: real API and worker processes on Redis, the real-architecture generated model, real HTTP.
 * Prints sync latency by request size next to the engine's own time for the same work (measured in this process,
 * in the same run), a 1,000-request concurrent burst, a 10,000-document async job, and each process's RSS.
 *
 *   npm run bench:service [-- --redis-url redis://127.0.0.1:6379] [--worker-concurrency N]
 *
 * The model has random weights: its scores are meaningless; speed and memory equal the real model's.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ensureTestModel } from '../test/support/models.ts';
import { deleteKeysWithPrefix } from '../test/support/private-redis.ts';
import { spawnService } from '../test/support/processes.ts';
import { loadEngine } from '../worker/engine/index.ts';

const { values: flags } = parseArgs({
  options: {
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    // Unset: the worker's default (shared/config.ts).
    'worker-concurrency': { type: 'string' },
  },
});
const REDIS_URL = flags['redis-url'];
const PREFIX = `bench-${randomUUID().slice(0, 8)}`;
const WORDS = (
  'tides rise fall sea levels caused combined effects gravitational forces exerted moon sun ocean places ' +
  'experience two high low each day called semi diurnal bay fundy canada highest range world tables predicted'
).split(' ');

let seed = 7;
const nextInt = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
/** MS MARCO-like passages of 40-110 words: nearly all longer than 64 tokens, as real passages are. */
const passages = (count: number) =>
  Array.from({ length: count }, () => Array.from({ length: 40 + nextInt(70) }, () => WORDS[nextInt(WORDS.length)]).join(' '));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const ms = (value: number) => value.toFixed(1).padStart(8);

interface Metrics {
  memory: { rss_mb: number };
  workers: { memory: { rss_mb: number } }[];
}

async function main(): Promise<void> {
  const modelDir = await ensureTestModel('tinybert', { realVocab: true });
  process.stdout.write(`model ${modelDir} (random weights: scores are meaningless)\n\n`);
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'warn', SYNC_TIMEOUT_MS: '60000' };
  const api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', LOG_LEVEL: 'info' } });
  const concurrency: Record<string, string> = flags['worker-concurrency'] ? { WORKER_CONCURRENCY: flags['worker-concurrency'] } : {};
  const worker = spawnService({ entry: 'worker/main.ts', env: { ...env, ...concurrency, LOG_LEVEL: 'info' } });
  try {
    const [listening] = await Promise.all([
      api.waitForLine((line) => line.msg === 'api listening'),
      worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
    ]);
    await run(`http://127.0.0.1:${String(listening.port)}`, modelDir);
  } finally {
    await Promise.all([worker.stop(), api.stop()]);
    await cleanUp();
  }
}

async function run(base: string, modelDir: string): Promise<void> {
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const started = performance.now();
    const response = await fetch(`${base}/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { status_url?: string };
    return { status: response.status, ms: performance.now() - started, json };
  };
  const metrics = async () => (await (await fetch(`${base}/metrics`)).json()) as Metrics;
  const rss = async (label: string) => {
    const m = await metrics();
    process.stdout.write(`RSS ${label}: api ${m.memory.rss_mb} MB, worker ${m.workers[0]?.memory.rss_mb ?? '?'} MB\n`);
  };
  await rss('idle (model loaded)');

  // The engine in this process, for the same requests: what the service adds on top is queue + HTTP.
  const engine = await loadEngine({ modelDir, intraOpThreads: 1 });
  process.stdout.write('\nsync POST /rerank, sequential, distinct requests (engine: same work in-process, 1 thread)\n');
  process.stdout.write('docs      n   service p50   service p99   engine p50\n');
  for (const [docs, n] of [[20, 200], [100, 50], [1000, 10]] as const) {
    await post({ query: `warm ${docs}`, documents: passages(docs) });
    const service: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const body = { query: `what causes tides ${docs} ${i}`, documents: passages(docs) };
      const reply = await post(body);
      if (reply.status !== 200) throw new Error(`status ${reply.status}`);
      service.push(reply.ms);
      const t0 = performance.now();
      await engine.score(body.query, body.documents);
      local.push(performance.now() - t0);
    }
    service.sort((a, b) => a - b);
    local.sort((a, b) => a - b);
    process.stdout.write(
      `${String(docs).padStart(4)} ${String(n).padStart(6)}  ${ms(percentile(service, 0.5))}      ${ms(percentile(service, 0.99))}      ${ms(percentile(local, 0.5))}\n`,
    );
  }
  await engine.close();
  await rss('after the sequential runs');

  process.stdout.write('\n1,000 concurrent sync requests (250 distinct bodies of 20 docs, each sent 4 times)\n');
  const bodies = Array.from({ length: 250 }, (_, i) => ({ query: `burst ${i}`, documents: passages(20) }));
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => post({ ...bodies[i % 250], top_k: 1 + (i % 4) })));
  const wall = performance.now() - started;
  const times = replies.map((r) => r.ms).sort((a, b) => a - b);
  const statuses: Record<number, number> = {};
  for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  process.stdout.write(
    `wall ${wall.toFixed(0)} ms, ${JSON.stringify(statuses)}, p50 ${percentile(times, 0.5).toFixed(0)} ms, p99 ${percentile(times, 0.99).toFixed(0)} ms, ${((250 * 20) / (wall / 1000)).toFixed(0)} pairs/s\n`,
  );

  process.stdout.write('\n10,000-document async job (Prefer: respond-async, then polled)\n');
  const t0 = performance.now();
  const accepted = await post({ query: 'what causes the tides', documents: passages(10_000) }, { prefer: 'respond-async' });
  for (;;) {
    const job = (await (await fetch(`${base}${accepted.json.status_url}`)).json()) as { status: string };
    if (job.status === 'completed') break;
    if (job.status === 'failed') throw new Error('10k job failed');
    await delay(100); // poll interval of a client; the deadline is the job's own
  }
  const total = performance.now() - t0;
  process.stdout.write(`done in ${total.toFixed(0)} ms (${(10_000 / (total / 1000)).toFixed(0)} pairs/s end to end)\n`);
  await rss('after the 10,000-document job');
}

async function cleanUp(): Promise<void> {
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
}

await main();
