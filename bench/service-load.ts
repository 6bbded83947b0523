/**
 * What the service costs over its engine: real API and worker processes over real Redis and HTTP, driven by a
 * load generator in its own process at concurrency 1, 4, 16 and 64 (distinct 20-document sync requests), next
 * to the engine's own pairs/s and latency for the same requests in this process, in the same run. Also /health
 * latency while the load runs and the peak RSS of API and worker.
 *
 *   npm run bench:load [-- --quick] [--write] [--redis-url redis://127.0.0.1:6379]
 *
 * The model is generated (real TinyBERT-L-2 architecture and vocabulary, random weights): scores are
 * meaningless; speed and memory are real.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ensureTestModel } from '../test/support/models.ts';
import { deleteKeysWithPrefix } from '../test/support/private-redis.ts';
import { spawnService } from '../test/support/processes.ts';
import { loadEngine, type RerankEngine } from '../worker/engine/index.ts';
import type { LoadResult } from './lib/load-client.ts';
import { fmt, machine, printTable, recordInBenchmarks, wordPassages } from './lib/report.ts';

const { values: flags } = parseArgs({
  options: {
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const DOCS = 20;
const LEVELS: [number, number][] = flags.quick ? [[1, 10], [16, 32]] : [[1, 100], [4, 200], [16, 480], [64, 640]];
const PREFIX = `bench-load-${randomUUID().slice(0, 8)}`;
const passages = wordPassages(512, 60);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
/** Peak resident set of a live process, from the kernel's high-water mark. */
const peakRssMb = (pid: number | undefined) =>
  Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1] ?? NaN) / 1024;

async function runLoad(base: string, concurrency: number, requests: number): Promise<LoadResult> {
  const script = resolve(import.meta.dirname, 'lib/load-client.ts');
  const args = ['--import', 'tsx', script, base, String(concurrency), String(requests), String(DOCS), randomUUID()];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as LoadResult;
}

/** Polls /health every 25 ms until stopped; returns the slowest answer. */
function watchHealth(base: string): { stop(): Promise<number> } {
  let slowest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await fetch(`${base}/health`).then((r) => r.arrayBuffer());
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return { stop: async () => ((running = false), await loop, slowest) };
}

/** The engine alone on the same requests: `concurrency` callers in a closed loop, as the load client does. */
async function engineRun(engine: RerankEngine, concurrency: number, requests: number): Promise<{ pairsPerSec: number; p50: number }> {
  let sent = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = sent++; i < requests; i = sent++) {
        const documents = Array.from({ length: DOCS }, (_, d) => passages[(i * DOCS + d) % passages.length]!);
        const t0 = performance.now();
        await engine.score(`engine ${i}`, documents);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wallMs = performance.now() - started;
  return { pairsPerSec: (requests * DOCS * 1000) / wallMs, p50: percentile(latencies.sort((a, b) => a - b), 0.5) };
}

async function main(): Promise<void> {
  const modelDir = await ensureTestModel('tinybert', { realVocab: true });
  const env = { REDIS_URL: flags['redis-url'], QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'warn', SYNC_TIMEOUT_MS: '60000' };
  const api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', LOG_LEVEL: 'info' } });
  const worker = spawnService({ entry: 'worker/main.ts', env: { ...env, LOG_LEVEL: 'info' } });
  const lines: string[] = [];
  const log = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  try {
    const [listening] = await Promise.all([
      api.waitForLine((line) => line.msg === 'api listening'),
      worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
    ]);
    const base = `http://127.0.0.1:${String(listening.port)}`;
    await runLoad(base, 4, 16); // warm-up

    const rows: string[][] = [];
    const service = new Map<number, { pairsPerSec: number; p50: number }>();
    let slowestHealth = 0;
    for (const [concurrency, requests] of LEVELS) {
      const health = watchHealth(base);
      const result = await runLoad(base, concurrency, requests);
      slowestHealth = Math.max(slowestHealth, await health.stop());
      const sorted = [...result.latenciesMs].sort((a, b) => a - b);
      const errors = requests - (result.statuses['200'] ?? 0);
      const pairsPerSec = (requests * DOCS * 1000) / result.wallMs;
      service.set(concurrency, { pairsPerSec, p50: percentile(sorted, 0.5) });
      rows.push([
        String(concurrency),
        fmt((requests * 1000) / result.wallMs, 1),
        fmt(pairsPerSec),
        fmt(percentile(sorted, 0.5), 1),
        fmt(percentile(sorted, 0.95), 1),
        fmt(percentile(sorted, 0.99), 1),
        String(errors),
      ]);
    }
    const [apiPeak, workerPeak] = [peakRssMb(api.child.pid), peakRssMb(worker.child.pid)];
    await worker.stop(); // the engine below gets the cores the worker had

    const engine = await loadEngine({ modelDir });
    await engineRun(engine, 4, 16);
    const engineC1 = await engineRun(engine, 1, flags.quick ? 10 : 100);
    const engineC16 = await engineRun(engine, 16, flags.quick ? 32 : 480);
    await engine.close();

    log(`${machine()}; ${DOCS}-document sync POST /rerank (60-word passages), API + worker + Redis on this machine, worker defaults`);
    log('Generated model (real architecture and vocabulary, random weights): scores meaningless, speed real.');
    log();
    printTable(['concurrency', 'requests/s', 'pairs/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors'], rows, log);
    log();
    log(`engine alone, same requests in one process: c1 p50 ${fmt(engineC1.p50, 1)} ms; c16 ${fmt(engineC16.pairsPerSec)} pairs/s`);
    log(`slowest /health during the load: ${fmt(slowestHealth, 1)} ms; peak RSS: API ${fmt(apiPeak)} MB, worker ${fmt(workerPeak)} MB`);
    log();
    const c16 = service.get(16);
    const c1 = service.get(1);
    printTable(
      ['ratio', 'value'],
      [
        ['service / engine pairs/s at c16', c16 ? fmt(c16.pairsPerSec / engineC16.pairsPerSec, 2) : 'n/a'],
        ['p50 overhead at c1 (service - engine), ms', c1 ? fmt(c1.p50 - engineC1.p50, 1) : 'n/a'],
      ],
      log,
    );
    if (flags.write && !flags.quick) await recordInBenchmarks('load', 'npm run bench:load -- --write', lines);
  } finally {
    await Promise.all([worker.stop(), api.stop()]);
    await deleteKeysWithPrefix(flags['redis-url'], PREFIX);
  }
}

await main();
