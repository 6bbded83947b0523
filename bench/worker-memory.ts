/**
 * Worker memory under the worst inputs each profile allows: WORKER_CONCURRENCY jobs at once (`--rounds N` times over), each of
 * MAX_DOCUMENTS documents as long as MAX_BODY_BYTES lets them be (far longer than MAX_SEQ_LENGTH), fed straight to
 * a real worker process through the queue. Prints the worker's peak RSS (VmHWM from /proc) per profile next to
 * its WORKER_MAX_RSS_MB, and whether the watchdog had to recycle it.
 *
 *   npm run bench:worker-memory [-- --profile .env.production] [--rounds N] [--inline] [--with-bulk] [--redis-url ...]
 *
 * Jobs are added as the API adds them (shared/job-documents.ts: documents in a list beside a job this large);
 * --inline adds them with their documents in the job data instead, as before that, to compare. --with-bulk also
 * sends the worst bulk job through a real API at the same time: documents as long as one may be (MAX_BODY_BYTES
 * characters), as many as MAX_BULK_BODY_BYTES holds, each a chunk of its own.
 *
 * The worker runs as npm start runs it (WORKER_NODE_ARGS as NODE_OPTIONS, MALLOC_ARENA_MAX=2); set NODE_OPTIONS
 * or MALLOC_ARENA_MAX in the environment to compare (NODE_OPTIONS=' ' for V8's default heap).
 *
 * Linux only (/proc). The model is the generated one with the real architecture: scores meaningless, memory real.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs, parseEnv } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { WORKER_NODE_ARGS } from '../scripts/lib/service.ts';
import { loadConfig, type Config } from '../shared/config.ts';
import { addRerankJob } from '../shared/job-documents.ts';
import { QUEUE_NAME, RERANK_JOB, type RerankJobData } from '../shared/queue.ts';
import { RECYCLE_EXIT_CODE } from '../worker/memory-watchdog.ts';
import { ensureTestModel } from '../test/support/models.ts';
import { deleteKeysWithPrefix } from '../test/support/private-redis.ts';
import { spawnService } from '../test/support/processes.ts';

const { values: flags } = parseArgs({
  options: {
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    profile: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '1' },
    inline: { type: 'boolean', default: false },
    'with-bulk': { type: 'boolean', default: false },
  },
});
const REDIS_URL = flags['redis-url'];
const PROFILES = flags.profile ?? ['.env.dev', '.env.production', '.env.minimal'];
/** Settings that shape the worker's memory; the rest of a profile (HOST, LOG_LEVEL, ...) does not matter here. */
const WORKER_SETTINGS = ['MAX_SEQ_LENGTH', 'MAX_DOCUMENTS', 'MAX_BODY_BYTES', 'INTRA_OP_THREADS', 'TOKEN_BUDGET', 'WORKER_CONCURRENCY', 'WORKER_MAX_RSS_MB', 'WORKER_MAX_ACTIVE_TEXT_MB', 'BULK_WORKER_CONCURRENCY'];

const WORDS = 'tides rise fall sea levels caused combined effects gravitational forces moon sun ocean bay fundy'.split(' ');
function passage(chars: number, salt: number): string {
  const words: string[] = [];
  for (let length = 0, i = salt; length < chars; i += 7) {
    const word = WORDS[i % WORDS.length]!;
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ').slice(0, chars);
}

function vmHwmMb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return Math.round(Number(match?.[1] ?? 0) / 1024);
}

interface ProfileResult {
  profile: string;
  settings: Record<string, string | number>;
  maxDocuments: number;
  docChars: number;
  jobs: number;
  peakMb: number;
  capMb: number;
  recycles: number;
  seconds: number;
  /** The bulk job sent beside the jobs (--with-bulk): documents x characters. */
  bulk?: string;
}

/** Sends the worst bulk job (see the top) to the API at `base`; resolves its shape and a promise of its end. */
async function worstBulkJob(base: string, config: Config): Promise<{ shape: string; done: Promise<void> }> {
  const chars = config.MAX_BODY_BYTES;
  const count = Math.max(1, Math.floor((config.MAX_BULK_BODY_BYTES * 0.95) / chars));
  const body = JSON.stringify({ query: 'what moves the sea', documents: Array.from({ length: count }, (_, i) => passage(chars, i)) });
  const reply = await fetch(`${base}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const accepted = (await reply.json()) as { status_url?: string };
  if (reply.status !== 202) throw new Error(`bulk job refused: ${reply.status} ${JSON.stringify(accepted)}`);
  const done = (async () => {
    for (const deadline = Date.now() + 600_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const status = (await (await fetch(`${base}${accepted.status_url}`)).json()) as { status: string; error?: unknown };
      if (status.status === 'completed') return;
      if (status.status === 'failed') throw new Error(`bulk job failed: ${JSON.stringify(status.error)}`);
    }
    throw new Error('bulk job still running after 10 minutes');
  })();
  return { shape: `${count} x ${chars}`, done };
}

async function runProfile(profile: string, modelDir: string): Promise<ProfileResult> {
  const fileEnv = parseEnv(readFileSync(profile, 'utf8'));
  const config = loadConfig(fileEnv);
  const prefix = `bench-mem-${randomUUID().slice(0, 8)}`;
  // The worker serves the model its jobs name (it refuses another model's jobs: WRONG_MODEL).
  const env: Record<string, string> = { REDIS_URL, QUEUE_PREFIX: prefix, MODEL_DIR: modelDir, MODEL_NAME: 'bench', LOG_LEVEL: 'warn' };
  for (const key of WORKER_SETTINGS) if (fileEnv[key] !== undefined) env[key] = fileEnv[key]!;
  // As npm start runs the worker (V8 heap limit, two malloc arenas), unless the environment says otherwise.
  env.NODE_OPTIONS = process.env.NODE_OPTIONS ?? WORKER_NODE_ARGS.join(' ');
  env.MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
  // The worst body the API accepts: MAX_DOCUMENTS documents filling MAX_BODY_BYTES (JSON quotes and commas aside).
  const docChars = Math.floor((config.MAX_BODY_BYTES * 0.95) / config.MAX_DOCUMENTS) - 4;
  const jobs = config.WORKER_CONCURRENCY * Number(flags.rounds);
  const connection = { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) };
  const queue = new Queue<RerankJobData>(QUEUE_NAME, { connection, prefix: `{${prefix}}` });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: `{${prefix}}` });
  const redis = new Redis(REDIS_URL);
  // As the supervisor does: a worker that recycles itself (exit 75) is replaced; its peak still counts.
  let worker = spawnService({ entry: 'worker/main.ts', env: { ...env, LOG_LEVEL: 'info' } });
  // The API with the profile's own limits, serving the worker's model.
  const apiEnv = { ...fileEnv, ...env, NODE_OPTIONS: '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' };
  const api = flags['with-bulk'] ? spawnService({ entry: 'api/main.ts', env: apiEnv }) : undefined;
  let recycles = 0;
  let peakMb = 0;
  const sample = () => {
    if (worker.child.exitCode === null && worker.child.pid) peakMb = Math.max(peakMb, vmHwmMb(worker.child.pid));
  };
  let stopped = false;
  const supervise = (current: typeof worker) =>
    void current.waitForExit(3_600_000).then((code) => {
      if (stopped) return;
      if (code !== RECYCLE_EXIT_CODE) throw new Error(`worker exited with ${code}: ${current.rawOutput.join('\n')}`);
      recycles += 1;
      worker = spawnService({ entry: 'worker/main.ts', env: { ...env, LOG_LEVEL: 'info' } });
      supervise(worker);
    });
  supervise(worker);
  const sampler = setInterval(sample, 100);
  try {
    await events.waitUntilReady();
    await worker.waitForLine((line) => line.msg === 'worker ready', 120_000);
    const listening = await api?.waitForLine((line) => line.msg === 'api listening');
    const started = performance.now();
    const bulk = listening ? await worstBulkJob(`http://127.0.0.1:${String(listening.port)}`, config) : undefined;
    const documents = Array.from({ length: config.MAX_DOCUMENTS }, (_, i) => passage(docChars, i));
    let finished = 0;
    const allDone = new Promise<void>((resolve, reject) => {
      const count = () => (++finished === jobs ? resolve() : undefined);
      events.on('completed', count);
      events.on('failed', ({ failedReason }) => reject(new Error(failedReason)));
    });
    for (let i = 0; i < jobs; i += 1) {
      // Distinct queries: no two jobs share work.
      const data = { query: `what causes the tides ${i}`, documents, raw: false, model: 'bench', maxLength: config.MAX_SEQ_LENGTH };
      if (flags.inline) await queue.add(RERANK_JOB, data);
      else await addRerankJob(queue, redis, RERANK_JOB, data, `bench-${i}`);
    }
    await allDone;
    await bulk?.done;
    sample();
    const settings = Object.fromEntries(WORKER_SETTINGS.map((key) => [key, config[key as keyof typeof config] as number]));
    return { profile, settings, maxDocuments: config.MAX_DOCUMENTS, docChars, jobs, peakMb, capMb: config.WORKER_MAX_RSS_MB, recycles, seconds: (performance.now() - started) / 1000, bulk: bulk?.shape };
  } finally {
    stopped = true;
    clearInterval(sampler);
    await Promise.all([worker.stop(), api?.stop()]);
    await events.close();
    await queue.close();
    redis.disconnect();
    await deleteKeysWithPrefix(REDIS_URL, prefix);
  }
}

const modelDir = await ensureTestModel('tinybert', { realVocab: true });
process.stdout.write(`worker memory, worst allowed inputs; model ${modelDir} (random weights)\n`);
const nodeOptions = process.env.NODE_OPTIONS ?? WORKER_NODE_ARGS.join(' ');
process.stdout.write(`worker NODE_OPTIONS=${nodeOptions} MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}\n`);
process.stdout.write(`documents ${flags.inline ? 'inline in the job data (--inline)' : 'as the API stores them (a list beside each job)'}\n\n`);
process.stdout.write('profile          concurrency  docs x chars   jobs  peak RSS  cap  recycles  seconds  bulk job beside them\n');
for (const profile of PROFILES) {
  const r = await runProfile(profile, modelDir);
  const shape = `${r.maxDocuments} x ${r.docChars}`;
  const cells = [
    r.profile.padEnd(16),
    String(r.settings.WORKER_CONCURRENCY).padStart(11),
    ` ${shape.padEnd(13)}`,
    String(r.jobs).padStart(5),
    `${String(r.peakMb).padStart(5)} MB`,
    String(r.capMb).padStart(4),
    ` ${String(r.recycles).padStart(8)}`,
    r.seconds.toFixed(1).padStart(7),
    r.bulk ? ` ${r.bulk}` : '',
  ];
  process.stdout.write(`${cells.join(' ')}\n`);
}
