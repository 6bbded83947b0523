/**
 * Abuse probe: what hostile or maximum-size bodies cost the API process. For each probe a fresh API process (no
 * worker: bodies are parsed, validated and queued; `Prefer: respond-async` answers at once) receives the bodies
 * concurrently over real HTTP while /health is polled; prints the API's peak RSS (VmHWM), its worst event-loop
 * delay (perf_hooks, preloaded), the worst /health latency, the probe's wall time and the statuses.
 *
 *   npm run bench:abuse [-- --redis-url redis://127.0.0.1:6379] [--only deep1,deep8,max8,mixed,burst,backlog]
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { QUEUE_NAME, RERANK_JOB } from '../shared/queue.ts';
import { deleteKeysWithPrefix } from '../test/support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../test/support/processes.ts';

const { values: flags } = parseArgs({
  options: {
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    only: { type: 'string' },
  },
});
const REDIS_URL = flags['redis-url'];
const LOOP_LAG = resolve(import.meta.dirname, 'support/loop-lag.mjs');

const deep = (depth: number) => Buffer.from(`{"query":"q","documents":${'['.repeat(depth)}${']'.repeat(depth)}}`);
/** The largest request the default limits allow: 10,000 documents of 1.6 kB (16.0 MB of a 16 MiB limit). */
const maximal = () => {
  const documents = Array.from({ length: 10_000 }, (_, i) => `${i} `.padEnd(1_600, 'tides rise and fall '));
  return Buffer.from(JSON.stringify({ query: 'what causes tides', documents }));
};
/** Built once and shared by the probes that send many of them. */
let maximalShared: Buffer | undefined;
let deepShared: Buffer | undefined;
const maximalBody = () => (maximalShared ??= maximal());
const deepBody = () => (deepShared ??= deep(4_000_000));

interface Probe {
  name: string;
  what: string;
  body: (index: number) => Buffer;
  copies: number;
  /** A body per request (else one body, sent `copies` times). */
  distinct?: boolean;
  /** Sent without Prefer: respond-async: each request waits up to SYNC_TIMEOUT_MS for its job. */
  sync?: boolean;
  env?: Record<string, string>;
  /** Jobs already waiting before the probe: a worker that cannot keep up. */
  backlog?: number;
}

let seed = 7;
const nextInt = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
const WORDS = 'tides rise fall sea levels moon sun ocean gravity bay fundy range tables predicted'.split(' ');
const sentence = (words: number) => Array.from({ length: words }, () => WORDS[nextInt(WORDS.length)]).join(' ');
/** A distinct 20-document request, as in the burst. */
const small = (index: number) =>
  Buffer.from(JSON.stringify({ query: `burst ${index}`, documents: Array.from({ length: 20 }, () => sentence(60)) }));

const PROBES: Probe[] = [
  { name: 'deep1', what: 'one 2 MB body, arrays nested 10^6 deep', body: () => deep(1_000_000), copies: 1 },
  { name: 'deep8', what: '8 concurrent 8 MB bodies, arrays nested 4x10^6 deep', body: () => deep(4_000_000), copies: 8 },
  { name: 'max8', what: '8 concurrent maximum-size requests (10,000 x 1.6 kB)', body: maximal, copies: 8 },
  {
    name: 'mixed',
    what: '8 maximum-size requests and 8 8 MB deep-nesting bodies, all at once',
    body: (index) => (index % 2 === 0 ? maximalBody() : deepBody()),
    copies: 16,
    distinct: true,
  },
  {
    name: 'burst',
    what: '1,000 concurrent sync 20-document requests, SYNC_TIMEOUT_MS=1000, no worker: each must 202 within 2 s',
    body: small,
    copies: 1_000,
    distinct: true,
    sync: true,
    env: { SYNC_TIMEOUT_MS: '1000', MAX_QUEUE_DEPTH: '1000000' },
  },
  {
    name: 'backlog',
    what: 'the same burst with 50,000 jobs already waiting (a worker that cannot keep up)',
    body: small,
    backlog: 50_000,
    copies: 1_000,
    distinct: true,
    sync: true,
    env: { SYNC_TIMEOUT_MS: '1000', MAX_QUEUE_DEPTH: '1000000' },
  },
];

function post(port: number, body: Buffer, sync = false): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const prefer: Record<string, string> = sync ? {} : { prefer: 'respond-async' };
  return new Promise((resolvePost) => {
    const done = (status: number) => resolvePost({ status, ms: performance.now() - started });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/rerank',
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...prefer },
        agent: false,
      },
      (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode ?? 0));
      },
    );
    // 0: the connection was cut. This client asks Connection: close (agent: false), so after an early refusal (503
    // before the body is read) the server closes while the upload still runs: an EPIPE that can beat the answer.
    req.on('error', () => done(0));
    req.end(body);
  });
}

/** Polls /health one request after another until stopped; returns the worst latency seen. */
function pollHealth(base: string): { stop: () => Promise<number> } {
  let running = true;
  let worst = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await fetch(`${base}/health`).then((r) => r.arrayBuffer()).catch(() => undefined);
      worst = Math.max(worst, performance.now() - started);
      await new Promise((r) => setTimeout(r, 10)); // spacing between polls
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return worst;
    },
  };
}

const pct = (sorted: number[], p: number) =>
  (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN).toFixed(0);

/** CPU seconds (user + system) the process has used. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const peakRssMb = (pid: number) => {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return match ? Number(match[1]) / 1024 : NaN;
};

/** Fills the probe's queue with `count` small waiting jobs, as the API would have added them. */
async function addBacklog(prefix: string, count: number): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${prefix}}` });
  try {
    for (let start = 0; start < count; start += 1_000) {
      const jobs = Array.from({ length: Math.min(1_000, count - start) }, (_, i) => ({
        name: RERANK_JOB,
        data: { query: 'backlog', documents: [`waiting ${start + i}`], raw: false, model: 'm', maxLength: 64 },
        opts: { jobId: `rr-backlog-${start + i}` },
      }));
      await queue.addBulk(jobs);
    }
  } finally {
    await queue.close();
  }
}

async function runProbe(probe: Probe, prefix: string): Promise<void> {
  if (probe.backlog) await addBacklog(prefix, probe.backlog);
  const shared = probe.distinct ? undefined : probe.body(0);
  const bodies = Array.from({ length: probe.copies }, (_, i) => shared ?? probe.body(i));
  const api: ServiceProcess = spawnService({
    entry: 'api/main.ts',
    env: {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_OPTIONS: `--import ${LOOP_LAG}`,
      ...probe.env,
    },
  });
  try {
    const listening = await api.waitForLine((line) => line.msg === 'api listening');
    const port = Number(listening.port);
    const base = `http://127.0.0.1:${port}`;
    await fetch(`${base}/health`);
    const idleMb = peakRssMb(api.child.pid!);
    // The lag counted is the probe's: reports start after one that follows start-up and the first request.
    const settled = api.lines.length;
    await api.waitForLine((line) => line.msg === 'loop lag' && api.lines.indexOf(line) >= settled);
    const lagFrom = api.lines.length;
    const cpuBefore = cpuSeconds(api.child.pid!);
    const health = pollHealth(base);
    const started = performance.now();
    const replies = await Promise.all(bodies.map((body) => post(port, body, probe.sync)));
    const wall = performance.now() - started;
    // One more lag report after the last answer covers the tail of the work.
    const reports = api.lines.length;
    await api.waitForLine((line) => line.msg === 'loop lag' && api.lines.indexOf(line) >= reports);
    const worstHealth = await health.stop();
    const cpu = cpuSeconds(api.child.pid!) - cpuBefore;
    const lag = Math.max(
      ...api.lines.slice(lagFrom).filter((line) => line.msg === 'loop lag').map((line) => Number(line.max_ms)),
    );
    const counts: Record<number, number> = {};
    for (const { status } of replies) counts[status] = (counts[status] ?? 0) + 1;
    const times = replies.map((reply) => reply.ms).sort((a, b) => a - b);
    const latency = `answers p50 ${pct(times, 0.5)} / p99 ${pct(times, 0.99)} / max ${pct(times, 1)} ms`;
    process.stdout.write(
      `${probe.name.padEnd(6)} ${probe.what}\n` +
        `       API RSS idle ${idleMb.toFixed(0)} MB, peak ${peakRssMb(api.child.pid!).toFixed(0)} MB; ` +
        `event-loop delay max ${lag.toFixed(0)} ms; /health worst ${worstHealth.toFixed(0)} ms; ` +
        `API CPU ${cpu.toFixed(1)} s; wall ${wall.toFixed(0)} ms; ${latency}; statuses ${JSON.stringify(counts)}\n`,
    );
  } finally {
    await api.stop();
  }
}

async function main(): Promise<void> {
  const only = flags.only?.split(',');
  for (const probe of PROBES.filter((p) => !only || only.includes(p.name))) {
    const prefix = `bench-abuse-${randomUUID().slice(0, 8)}`;
    try {
      await runProbe(probe, prefix);
    } finally {
      await deleteKeysWithPrefix(REDIS_URL, prefix);
    }
  }
}

await main();
