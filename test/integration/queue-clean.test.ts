/**
 * `npm run queue:clean -- --prefix P` against the real Redis: a prefix with real BullMQ keys (a completed job, the
 * events stream, queue metadata) and a worker report. It refuses while a worker is live, removes every `{P}:*` key
 * with --force (or once no worker is live), says how many, and leaves other prefixes alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { prefixPattern } from '../../shared/prefix-keys.ts';
import { publishWorkerReport, removeWorkerReport, type WorkerReport } from '../../shared/worker-registry.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { REPO_ROOT } from '../support/processes.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `test-queue-clean-${process.pid}`;
const NEIGHBOUR = `${PREFIX}-neighbour`;
let redis: Redis;

before(() => {
  redis = new Redis(REDIS_URL);
});

after(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(REDIS_URL, PREFIX); // PREFIX and PREFIX-neighbour
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const clean = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'scripts/queue-clean.ts', ...args]);

async function keysOf(queuePrefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', prefixPattern(queuePrefix), 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

/** What a run of the service leaves behind: one completed job through real BullMQ, and a worker report. */
async function leaveKeys(queuePrefix: string): Promise<void> {
  const connection = { url: REDIS_URL, maxRetriesPerRequest: null };
  const prefix = `{${queuePrefix}}`;
  const queue = new Queue('rerank', { connection, prefix });
  const events = new QueueEvents('rerank', { connection, prefix });
  const worker = new Worker('rerank', async () => ({ scores: [1] }), { connection, prefix });
  try {
    await events.waitUntilReady();
    const job = await queue.add('rerank', { query: 'q', documents: ['d'] }, { removeOnComplete: { count: 10 } });
    await job.waitUntilFinished(events, 15_000);
  } finally {
    await worker.close();
    await events.close();
    await queue.close();
  }
}

const report = (workerId: string): WorkerReport =>
  ({ worker_id: workerId, hostname: 'test', pid: 1, reported_at: new Date().toISOString() }) as WorkerReport;

test('queue:clean refuses while a worker is live, removes every {P}:* key with --force, leaves other prefixes', async () => {
  await leaveKeys(PREFIX);
  await leaveKeys(NEIGHBOUR);
  await publishWorkerReport(redis, `{${PREFIX}}`, report('live-worker'), 60_000);
  const before = await keysOf(PREFIX);
  assert.ok(before.some((key) => key.endsWith(':rerank:events')), before.join(' '));
  assert.ok(before.some((key) => key.endsWith(':rerank:meta')), before.join(' '));
  const neighbourKeys = await keysOf(NEIGHBOUR);

  const refused = await clean('--prefix', PREFIX);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /1 worker\(s\) of \{test-queue-clean-\d+\} are live \(live-worker\).*--force/);
  assert.deepEqual(await keysOf(PREFIX), before, 'nothing removed');

  const forced = await clean('--prefix', PREFIX, '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout.trim(), `removed ${before.length} keys under {${PREFIX}}:`);
  assert.deepEqual(await keysOf(PREFIX), []);
  assert.deepEqual(await keysOf(NEIGHBOUR), neighbourKeys, 'another prefix is untouched');
});

test('npm run queue:clean without live workers cleans at once; a bad or missing prefix is a usage error', async () => {
  await leaveKeys(NEIGHBOUR);
  await publishWorkerReport(redis, `{${NEIGHBOUR}}`, report('gone-worker'), 60_000);
  await removeWorkerReport(redis, `{${NEIGHBOUR}}`, 'gone-worker'); // a worker that stopped cleanly
  const count = (await keysOf(NEIGHBOUR)).length;
  assert.ok(count > 0);
  const cleaned = await run('npm', ['run', '-s', 'queue:clean', '--', '--prefix', NEIGHBOUR]);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  assert.equal(cleaned.stdout.trim(), `removed ${count} keys under {${NEIGHBOUR}}:`);
  assert.deepEqual(await keysOf(NEIGHBOUR), []);

  for (const args of [[], ['--prefix', 'a b*'], ['--prefix', PREFIX, '--bogus']]) {
    const refused = await clean(...args);
    assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
    assert.match(refused.stderr, /Usage: npm run queue:clean/);
  }
});

test('queue:clean with REDIS_CLUSTER_NODES refuses (exit 2) instead of cleaning the default local Redis', async () => {
  await leaveKeys(NEIGHBOUR);
  const count = (await keysOf(NEIGHBOUR)).length;
  const { REDIS_URL: _unset, ...env } = process.env;
  const cluster = { ...env, REDIS_CLUSTER_NODES: '127.0.0.1:7101,127.0.0.1:7102' };
  const refused = await run(process.execPath, ['--import', 'tsx', 'scripts/queue-clean.ts', '--prefix', NEIGHBOUR], cluster);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /REDIS_CLUSTER_NODES is set/);
  assert.equal((await keysOf(NEIGHBOUR)).length, count, 'nothing was removed');
});
