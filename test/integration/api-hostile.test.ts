/**
 * The hostile-input suite: over 2,000 generated malformed or hostile requests over raw TCP against real API and
 * worker processes. Asserts no 5xx, every error in the documented envelope with a catalogue code and its status,
 * no internals in any body, no restart of the API, its peak RSS under the target, and a normal request still
 * answered correctly afterwards.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import { ERRORS, isErrorCode } from '../../shared/errors.ts';
import { hostileCases, slowCases, type HostileCase } from '../support/hostile-requests.ts';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type ServiceProcess } from '../support/processes.ts';
import { rawRequest, type RawResponse } from '../support/raw-http.ts';

const PREFIX = `test-api-hostile-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const RSS_TARGET_MB = 400;
const CONCURRENCY = 16;
let api: ServiceProcess;
let worker: ServiceProcess;
let port: number;

before(async () => {
  const modelDir = await ensureTestModel('tiny');
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, LOG_LEVEL: 'info' };
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', REQUEST_TIMEOUT_MS: '1000', SYNC_TIMEOUT_MS: '5000' } });
  worker = spawnService({ entry: 'worker/main.ts', env });
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  port = Number(listening.port);
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

const INTERNALS = [/\n\s+at /, /node_modules/, /\/work\//, /\.ts:\d+/, new RegExp(hostname()), /"pid"/, /"stack"/];

/** What is wrong with one answer, or undefined. */
function problemWith(hostile: HostileCase, response: RawResponse): string | undefined {
  if (response.status === 0) return 'no response';
  if (response.status >= 500) return `status ${response.status}`;
  if (hostile.expect && !hostile.expect.includes(response.status)) return `status ${response.status}, expected ${hostile.expect}`;
  const leak = INTERNALS.find((pattern) => pattern.test(response.body));
  if (leak) return `body shows internals (${leak})`;
  if (response.status < 400) return undefined;
  let parsed: { error?: { code?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(response.body);
  } catch {
    return `error body is not JSON: ${response.body.slice(0, 200)}`;
  }
  const code = parsed.error?.code;
  if (!isErrorCode(code)) return `error code ${String(code)} is not in the catalogue`;
  if (ERRORS[code].status !== response.status) return `${code} sent with status ${response.status}`;
  if (typeof parsed.error?.message !== 'string' || parsed.error.message === '') return 'error without a message';
  return undefined;
}

async function runAll(cases: HostileCase[]): Promise<{ hostile: HostileCase; response: RawResponse }[]> {
  const results: { hostile: HostileCase; response: RawResponse }[] = [];
  let next = 0;
  const lane = async () => {
    while (next < cases.length) {
      const hostile = cases[next++]!;
      results.push({ hostile, response: await rawRequest(port, hostile.request, hostile.options) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return results;
}

const peakRssMb = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1]) / 1024;

test('over 2,000 hostile requests: no 5xx, every error documented, no restart, bounded memory', async () => {
  const cases = hostileCases();
  const slow = slowCases(6);
  assert.ok(cases.length + slow.length >= 2_000, `only ${cases.length + slow.length} cases`);
  const pid = api.child.pid!;
  const started = performance.now();
  const [results, slowResults] = await Promise.all([runAll(cases), runAll(slow)]);
  const seconds = (performance.now() - started) / 1000;

  const problems: string[] = [];
  const statuses: Record<number, number> = {};
  for (const { hostile, response } of [...results, ...slowResults]) {
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const problem = problemWith(hostile, response);
    if (problem) problems.push(`${hostile.kind}: ${problem} <- ${hostile.request.subarray(0, 120).toString('latin1')}`);
  }
  console.log(`${results.length + slowResults.length} hostile requests in ${seconds.toFixed(1)} s: ${JSON.stringify(statuses)}`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
  for (const { response } of slowResults) assert.equal(response.headers.connection, 'close');

  assert.equal(api.child.exitCode, null, 'the API exited');
  assert.equal(api.child.pid, pid);
  const peak = peakRssMb(pid);
  console.log(`API peak RSS ${peak.toFixed(0)} MB`);
  assert.ok(peak < RSS_TARGET_MB, `API peak RSS ${peak.toFixed(0)} MB`);
  assert.ok(!api.lines.some((line) => (line.level ?? 0) >= 50), 'the API logged an error');
});

test('afterwards a normal request is answered correctly', async () => {
  const response = await fetch(`http://127.0.0.1:${port}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'what causes tides', documents: ['The moon.', { text: 'Wind.' }, 'Sun.'], top_k: 2 }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { rankings: { index: number; score: number }[]; top_k_applied: boolean };
  assert.equal(body.rankings.length, 2);
  assert.equal(body.top_k_applied, true);
  for (const ranking of body.rankings) assert.ok([0, 1, 2].includes(ranking.index) && Number.isFinite(ranking.score));
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
});
