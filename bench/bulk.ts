/**
 * Bulk benchmark: real API and worker processes on a private redis-server (so that its used_memory is ours alone),
 * the real-architecture generated model, real HTTP. Prints:
 *   - p50/p99 of a 20-document POST /rerank when idle and while a 50,000-document bulk job runs (target: <= 2x);
 *   - the throughput of a 100,000-document bulk job with one worker, then with two, and the API's peak RSS (VmHWM)
 *     while accepting it (target <= 300 MB);
 *   - Redis used_memory per retained 10,000-document /rerank job (target <= 300 KB) and for a finished
 *     100,000-document bulk job (target <= 3 MB).
 *
 *   npm run bench:bulk [-- --worker-threads N]
 *
 * The model has random weights: its scores are meaningless; speed and memory equal the real model's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ensureTestModel } from '../test/support/models.ts';
import { PrivateRedis } from '../test/support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../test/support/processes.ts';

const { values: flags } = parseArgs({
  options: { 'worker-threads': { type: 'string' }, only: { type: 'string' } },
});
/** --only interactive|memory|throughput runs one part. */
const runs = (part: string) => flags.only === undefined || flags.only === part;
const WORDS = (
  'tides rise fall sea levels caused combined effects gravitational forces exerted moon sun ocean places ' +
  'experience two high low each day called semi diurnal bay fundy canada highest range world tables predicted'
).split(' ');
let seed = 7;
const nextInt = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
/** MS MARCO-like passages of 40-110 words, as in bench/service.ts. */
const passages = (count: number) =>
  Array.from({ length: count }, () => Array.from({ length: 40 + nextInt(70) }, () => WORDS[nextInt(WORDS.length)]).join(' '));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Peak resident set of a process since it started (Linux VmHWM), in MB. */
const peakRssMb = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)?.[1]) / 1024;
/** Linux: "5" resets VmHWM, so that the peak is the one of the next request alone. */
const resetPeakRss = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');
const rssMb = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1]) / 1024;

class Client {
  constructor(readonly base: string) {}

  async post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const started = performance.now();
    const response = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const json = (await response.json()) as any;
    if (response.status >= 300 && response.status !== 202) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return { status: response.status, ms: performance.now() - started, json };
  }

  async get(path: string) {
    return (await (await fetch(`${this.base}${path}`)).json()) as any;
  }

  async untilDone(jobId: string): Promise<any> {
    for (;;) {
      const status = await this.get(`/jobs/${jobId}`);
      if (['completed', 'failed', 'cancelled'].includes(status.status)) return status;
      await delay(100); // a client's poll interval
    }
  }

  /** p50/p99 of `n` sequential 20-document requests, distinct so that none is served from dedupe. */
  async latency20(n: number, label: string): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await this.post('/rerank', { query: `${label} ${i} ${Math.random()}`, documents: passages(20) });
      times.push(reply.ms);
    }
    times.sort((a, b) => a - b);
    say(`  20-document /rerank ${label}: p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms (n=${n})`);
    return percentile(times, 0.5);
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number((await redis.info('memory')).match(/^used_memory:(\d+)/m)?.[1]);
}

async function bulkRun(
  client: Client,
  api: ServiceProcess,
  documents: string[],
  label: string,
  format: 'json' | 'ndjson',
): Promise<void> {
  const header = { query: 'what causes the tides' };
  const body =
    format === 'json'
      ? JSON.stringify({ ...header, documents })
      : [JSON.stringify(header), ...documents.map((document) => JSON.stringify(document))].join('\n');
  const contentType = format === 'json' ? 'application/json' : 'application/x-ndjson';
  const rssBefore = rssMb(api.child.pid!);
  resetPeakRss(api.child.pid!);
  const t0 = performance.now();
  const accepted = await client.post('/jobs', body, { 'content-type': contentType });
  const acceptMs = performance.now() - t0;
  const done = await client.untilDone(accepted.json.job_id);
  const seconds = (performance.now() - t0) / 1000;
  const workers = done.workers.map((w: { chunks: number }) => w.chunks).join(' + ');
  say(
    `  ${label}: ${documents.length.toLocaleString('en-US')} documents (${(body.length / 2 ** 20).toFixed(1)} MB ${format}) ` +
      `${done.status} in ${seconds.toFixed(1)} s = ${Math.round(documents.length / seconds)} pairs/s; ` +
      `accepted in ${acceptMs.toFixed(0)} ms; chunks per worker ${workers}; ` +
      `API RSS ${rssBefore.toFixed(0)} MB before, peak ${peakRssMb(api.child.pid!).toFixed(0)} MB`,
  );
}

async function main(): Promise<void> {
  const modelDir = await ensureTestModel('tinybert', { realVocab: true });
  say(`model ${modelDir} (random weights: scores are meaningless)`);
  const redis = await PrivateRedis.start();
  const admin = new Redis(redis.url);
  const threads: Record<string, string> = flags['worker-threads'] ? { INTRA_OP_THREADS: flags['worker-threads'] } : {};
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: 'bench', MODEL_DIR: modelDir, LOG_LEVEL: 'warn', SYNC_TIMEOUT_MS: '60000' };
  const api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', LOG_LEVEL: 'info', MAX_SYNC_WAIT_MS: '60000' } });
  const startWorker = async () => {
    const worker = spawnService({ entry: 'worker/main.ts', env: { ...env, ...threads, LOG_LEVEL: 'info' } });
    await worker.waitForLine((line) => line.msg === 'worker ready', 60_000);
    return worker;
  };
  const workers: ServiceProcess[] = [];
  try {
    const [listening] = await Promise.all([api.waitForLine((line) => line.msg === 'api listening'), startWorker().then((w) => workers.push(w))]);
    const client = new Client(`http://127.0.0.1:${String(listening.port)}`);
    await client.latency20(20, 'warm-up');

    if (runs('memory')) {
      say('\nRedis used_memory (private redis-server)');
      const before = await usedMemory(admin);
      for (let k = 0; k < 3; k++) await client.post('/rerank', { query: `memory ${k}`, documents: passages(10_000) }, { prefer: 'wait=60' });
      await delay(500); // the worker drops each job's documents right after completion
      say(`  per retained 10,000-document /rerank job: ${(((await usedMemory(admin)) - before) / 3 / 1024).toFixed(0)} KB`);
    }
    if (runs('interactive')) await interactive(client);
    if (runs('throughput') || runs('memory')) {
      say('\n100,000-document bulk jobs');
      const documents = passages(100_000);
      const before = await usedMemory(admin);
      await bulkRun(client, api, documents, 'one worker', 'ndjson');
      say(`  Redis used_memory of the finished job: ${(((await usedMemory(admin)) - before) / 2 ** 20).toFixed(2)} MB`);
      if (runs('throughput')) {
        workers.push(await startWorker());
        await bulkRun(client, api, documents, 'two workers', 'json');
      }
    }
  } finally {
    await Promise.all([...workers.map((worker) => worker.stop()), api.stop()]);
    admin.disconnect();
    await redis.stop();
  }
}

async function interactive(client: Client): Promise<void> {
  say('\nInteractive first (one worker)');
  const idle = await client.latency20(100, 'idle');
  const bulk = await client.post('/jobs', { query: 'bulk meanwhile', documents: passages(50_000) });
  while ((await client.get(`/jobs/${bulk.json.job_id}`)).progress.done === 0) await delay(50);
  const busy = await client.latency20(100, 'while a 50,000-document bulk job runs');
  const state = await client.get(`/jobs/${bulk.json.job_id}`);
  say(`  ratio ${(busy / idle).toFixed(2)}x (target <= 2x); the bulk job was still ${state.status} at ${state.progress.done}/${state.progress.total}`);
  await fetch(`${client.base}/jobs/${bulk.json.job_id}`, { method: 'DELETE' });
}

await main();
