/**
 * Redis commands per new sync /rerank job, API side and worker side: real API and worker processes on a private
 * redis-server, `MONITOR` while `--requests` distinct 20-document requests run one after another. Each connection
 * is attributed to its process through `ss` (the client's port -> pid). Commands a Lua script runs inside Redis
 * are counted apart: they cost Redis time but no round trip. Heartbeats and other background traffic during the
 * window are counted too, so the per-job figures are a slight upper bound.
 * Then CPU time per request of each process (API, worker, redis-server; /proc utime + stime) over `--load`
 * requests at concurrency 16 from a load generator in its own process: unlike wall-clock rates, it barely moves
 * when other work shares the machine, so it compares two versions of the service on a noisy host.
 *
 *   npx tsx bench/round-trips.ts [--requests 20] [--show 1] [--load 320]
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ensureTestModel } from '../test/support/models.ts';
import { PrivateRedis } from '../test/support/private-redis.ts';
import { spawnService, type LogLine } from '../test/support/processes.ts';
import { wordPassages } from './lib/report.ts';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '20' },
    show: { type: 'string', default: '1' },
    load: { type: 'string', default: '320' },
  },
});
const REQUESTS = Number(flags.requests);
const passages = wordPassages(512, 60);

/** The pid of the process at the client end of each TCP connection to Redis on `port`, by client port. */
function pidsByClientPort(port: number): Map<string, number> {
  const pids = new Map<string, number>();
  for (const line of execFileSync('ss', ['-tnpH'], { encoding: 'utf8' }).split('\n')) {
    const match = line.match(/\s127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/);
    if (match && Number(match[2]) === port) pids.set(match[1]!, Number(match[3]));
  }
  return pids;
}

/** CPU milliseconds (user + system) a process has used so far. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function cpuPerRequest(base: string, pids: Record<string, number>, requests: number): Promise<void> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  const script = resolve(import.meta.dirname, 'lib/load-client.ts');
  const args = ['--import', 'tsx', script, base, '16', String(requests), '20', randomUUID()];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  const { statuses, wallMs } = JSON.parse(stdout) as { statuses: Record<string, number>; wallMs: number };
  const perRequest = Object.entries(pids).map(([name, pid]) => `${name} ${((cpuMs(pid) - before[name]!) / requests).toFixed(2)}`);
  console.log(`\nCPU ms per request at concurrency 16 (${requests} requests, ${JSON.stringify(statuses)}, ${(wallMs / 1000).toFixed(1)} s): ${perRequest.join(', ')}`);
}

/**
 * Per sequential request: its latency minus the engine time the worker reports for it (X-Tokenization-Time +
 * X-Inference-Time), i.e. what HTTP, the API, Redis and the queue add, measured within the same request.
 */
const overheadsMs: number[] = [];
/** X-Queue-Time of the same requests: from the add to a worker taking the job, part of the overhead. */
const queueMs: number[] = [];

async function post(base: string, i: number, tag: string): Promise<void> {
  const started = performance.now();
  const documents = Array.from({ length: 20 }, (_, d) => passages[(i * 20 + d) % passages.length]!);
  const response = await fetch(`${base}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `round trips ${tag} ${i}`, documents }),
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`POST /rerank answered ${response.status}`);
  const engineMs = Number(response.headers.get('x-tokenization-time')) + Number(response.headers.get('x-inference-time'));
  overheadsMs.push(performance.now() - started - engineMs);
  queueMs.push(Number(response.headers.get('x-queue-time')));
}

interface Command {
  process: string;
  name: string;
  lua: boolean;
  text: string;
}

/** One MONITOR entry; `source` is "ip:port" for a client, "lua" for a command a script ran. */
function toCommand(args: string[], source: string, processOf: (clientPort: string) => string): Command {
  const lua = source === 'lua';
  const name = (args[0] ?? '').toUpperCase();
  const text = args.map((arg) => JSON.stringify(arg.length > 60 ? `${arg.slice(0, 60)}...` : arg)).join(' ');
  return { process: lua ? 'lua' : processOf(source.split(':')[1] ?? ''), name, lua, text: text.slice(0, 160) };
}

/**
 * Where the last `count` requests' time went, from the two processes' own log lines (p50 of each span): the API's
 * request duration less the worker's job total is the API's own work plus Redis and the completion's way back;
 * the worker's total less queue wait, tokenization and inference is its per-job overhead.
 */
function splitOverhead(apiLines: LogLine[], workerLines: LogLine[], count: number): string {
  const requests = apiLines.filter((line) => line.msg === 'request' && line.route === '/rerank').slice(-count);
  const jobs = workerLines.filter((line) => line.msg === 'job completed').slice(-count);
  const p50 = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!.toFixed(1);
  const num = (line: LogLine, field: string) => Number(line[field]);
  const apiMinusJob = requests.map((line, i) => num(line, 'durationMs') - num(jobs[i]!, 'totalMs'));
  const workerOwn = jobs.map((line) => num(line, 'totalMs') - num(line, 'queueMs') - num(line, 'tokenizeMs') - num(line, 'inferenceMs'));
  const engine = jobs.map((line) => num(line, 'tokenizeMs') + num(line, 'inferenceMs'));
  return `p50 spans: API request ${p50(requests.map((line) => num(line, 'durationMs')))} ms = engine ${p50(engine)} + queue wait ${p50(jobs.map((line) => num(line, 'queueMs')))} + worker's own ${p50(workerOwn)} + API and completion ${p50(apiMinusJob)}`;
}

async function main(): Promise<void> {
  const redisServer = await PrivateRedis.start();
  const modelDir = await ensureTestModel('tinybert', { realVocab: true });
  const env = { REDIS_URL: redisServer.url, QUEUE_PREFIX: 'rt', MODEL_DIR: modelDir, LOG_LEVEL: 'warn' };
  const api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', LOG_LEVEL: 'info' } });
  const worker = spawnService({ entry: 'worker/main.ts', env: { ...env, LOG_LEVEL: 'info' } });
  const monitor = new Redis(redisServer.url);
  try {
    const [listening] = await Promise.all([
      api.waitForLine((line) => line.msg === 'api listening'),
      worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
    ]);
    const base = `http://127.0.0.1:${String(listening.port)}`;
    const tag = randomUUID().slice(0, 8);
    for (let i = 0; i < 3; i++) await post(base, 1_000 + i, tag); // warm-up: scripts loaded, connections open

    const byPid = new Map([[api.child.pid, 'api'], [worker.child.pid, 'worker']]);
    const ports = pidsByClientPort(redisServer.port);
    const processOf = (clientPort: string) => byPid.get(ports.get(clientPort)) ?? 'other';
    const commands: Command[] = [];
    const session = await monitor.monitor();
    session.on('monitor', (_time: string, args: string[], source: string) => commands.push(toCommand(args, source, processOf)));
    for (let i = 0; i < REQUESTS; i++) await post(base, i, tag);
    session.disconnect();
    overheadsMs.length = 0;
    queueMs.length = 0; // those ran under MONITOR, which slows Redis down: measure the overhead without it
    for (let i = 0; i < REQUESTS; i++) await post(base, 2_000 + i, tag);
    const sorted = overheadsMs.sort((a, b) => a - b);
    const at = (q: number, values = sorted) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!.toFixed(1);

    const perJob = (filter: (command: Command) => boolean) => (commands.filter(filter).length / REQUESTS).toFixed(1);
    /** A MULTI ... EXEC block is sent as one pipeline: one round trip however many commands it holds. */
    const roundTrips = (side: string) => {
      let trips = 0;
      let inMulti = false;
      for (const { process, name } of commands) {
        if (process !== side) continue;
        if (!inMulti) trips += 1;
        if (name === 'MULTI') inMulti = true;
        if (name === 'EXEC') inMulti = false;
      }
      return (trips / REQUESTS).toFixed(1);
    };
    console.log(`${REQUESTS} distinct sequential 20-document sync POST /rerank, MONITOR on a private redis-server`);
    for (const side of ['api', 'worker', 'other']) {
      const names = new Map<string, number>();
      for (const command of commands.filter((c) => c.process === side)) names.set(command.name, (names.get(command.name) ?? 0) + 1);
      const detail = [...names].map(([name, count]) => `${name} ${(count / REQUESTS).toFixed(1)}`).join(', ');
      console.log(`${side}: ${roundTrips(side)} round trips, ${perJob((c) => c.process === side)} commands per job (${detail})`);
    }
    console.log(`inside Lua scripts (no round trip): ${perJob((c) => c.lua)} commands per job`);
    console.log(splitOverhead(api.lines, worker.lines, REQUESTS));
    console.log(`overhead per sequential request (latency - worker's tokenize + inference): p50 ${at(0.5)} ms, p90 ${at(0.9)} ms; of which queue wait (add -> taken) p50 ${at(0.5, queueMs.sort((a, b) => a - b))} ms`);
    const redisPid = Number((await monitor.info('server')).match(/^process_id:(\d+)/m)?.[1]);
    await cpuPerRequest(base, { api: api.child.pid!, worker: worker.child.pid!, redis: redisPid }, Number(flags.load));
    const show = Number(flags.show);
    if (show > 0) {
      console.log('\nthe first job, in order (lua lines indented):');
      const firstJob = Math.ceil(commands.length / REQUESTS) * show;
      for (const command of commands.slice(0, firstJob)) {
        console.log(`${command.lua ? '      ' : ''}${command.process.padEnd(6)} ${command.text}`);
      }
    }
  } finally {
    monitor.disconnect();
    await Promise.all([worker.stop(), api.stop()]);
    await redisServer.stop();
  }
}

await main();
