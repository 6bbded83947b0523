/**
 * Metrics and logs with real processes: an API and a worker on the shared Redis (unique prefix), the tiny
 * generated model. GET /metrics as JSON and, asked the way a Prometheus server asks, in the text format read by
 * a real parser of it; the timing headers of /rerank; one JSON log line per request (API) and per job (worker).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService, type LogLine, type ServiceProcess } from '../support/processes.ts';
import { parseExposition } from '../support/prometheus.ts';

const PREFIX = `test-metrics-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
/** What Prometheus 3 sends when it scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
  'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const PINO_DEBUG = 20;
const PINO_INFO = 30;

let api: ServiceProcess;
let worker: ServiceProcess;
let workerId: string;
let base: string;

const body = { query: 'metrics please', documents: ['first passage', { text: 'second passage' }, 'third'] };

function post(payload: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
}

const timingHeaders = (response: Response) =>
  ['x-queue-time', 'x-tokenization-time', 'x-inference-time'].map((name) => response.headers.get(name));

function assertTimingHeaders(response: Response): void {
  for (const [i, value] of timingHeaders(response).entries()) {
    assert.match(value ?? '', /^\d+(\.\d)?$/, `timing header ${i}: ${value}`);
  }
}

const requestLine = (route: string, status: number) => (line: LogLine) =>
  line.msg === 'request' && line.route === route && line.status === status;

before(async () => {
  const modelDir = await ensureTestModel('tiny');
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, WORKER_HEARTBEAT_MS: '300' };
  worker = spawnService({ entry: 'worker/main.ts', env: { ...env, INTRA_OP_THREADS: '1' } });
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', LOG_LEVEL: 'debug' } });
  const [listening, ready] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
  workerId = String(ready.workerId);
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('a sync /rerank carries the timing headers; its request and its job each log one line', async () => {
  const response = await post(body);
  assert.equal(response.status, 200, await response.clone().text());
  assertTimingHeaders(response);
  await response.json();

  const line = await api.waitForLine(requestLine('/rerank', 200));
  assert.equal(line.level, PINO_INFO);
  assert.equal(line.method, 'POST');
  assert.equal(line.url, '/rerank');
  assert.match(String(line.reqId), /\S/);
  assert.equal(line.documents, 3);
  assert.equal(line.requestBytes, Buffer.byteLength(JSON.stringify(body)));
  assert.equal(typeof line.responseBytes, 'number');
  assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 0);
  assert.match(String(line.jobId), /^rr-/);
  for (const field of ['queueMs', 'tokenizeMs', 'inferenceMs']) assert.equal(typeof line[field], 'number', field);
  assert.equal(api.lines.filter((l) => l.msg === 'request' && l.reqId === line.reqId).length, 1, 'one line per request');

  const job = await worker.waitForLine((l) => l.msg === 'job completed' && l.jobId === line.jobId);
  assert.equal(job.level, PINO_INFO);
  assert.equal(job.workerId, workerId);
  assert.equal(job.documents, 3);
  assert.equal(job.pairs, 3);
  for (const field of ['queueMs', 'tokenizeMs', 'inferenceMs', 'totalMs']) {
    assert.ok(typeof job[field] === 'number' && (job[field] as number) >= 0, `${field}: ${String(job[field])}`);
  }
  const inferenceHeader = Number(response.headers.get('x-inference-time'));
  assert.ok(Math.abs(inferenceHeader - (job.inferenceMs as number)) <= 0.1, 'the headers are the job timings');
});

test('a 202 for an already computed result carries the timings too; one still queued does not', async () => {
  const reused = await post(body, { prefer: 'respond-async' });
  assert.equal(reused.status, 202);
  assert.equal(((await reused.json()) as { status: string }).status, 'completed');
  assertTimingHeaders(reused);

  const fresh = await post({ query: 'never seen before', documents: [randomUUID()] }, { prefer: 'respond-async' });
  assert.equal(fresh.status, 202);
  assert.deepEqual(timingHeaders(fresh), [null, null, null]);
  await fresh.json();
});

test('probes and scrapes log at debug, not info', async () => {
  for (const path of ['/health', '/metrics']) await (await fetch(`${base}${path}`)).json();
  for (const route of ['/health', '/metrics']) {
    const line = await api.waitForLine(requestLine(route, 200));
    assert.equal(line.level, PINO_DEBUG, route);
  }
});

test('GET /metrics as JSON: the seed fields, and the worker report with state, heap, pairs, percentiles, histograms', async () => {
  const metrics = await pollUntil('a worker report with 3 pairs scored', async () => {
    const reply = (await (await fetch(`${base}/metrics`)).json()) as any;
    return reply.workers[0]?.pairs_scored >= 3 ? reply : undefined;
  });
  for (const stats of [metrics, metrics.workers[0]]) {
    assert.ok(stats.memory.rss_mb > 0 && stats.memory.vms_mb > 0 && stats.memory.heap_used_mb > 0);
    assert.equal(typeof stats.cpu_percent, 'number');
    assert.ok(stats.num_threads >= 1);
  }
  const [report] = metrics.workers;
  assert.equal(report.worker_id, workerId);
  assert.equal(report.state, 'ready');
  assert.ok(report.cpu_seconds_total > 0);
  assert.ok(report.jobs.completed >= 1);
  for (const stage of ['queue', 'tokenize', 'inference', 'total']) {
    assert.deepEqual(Object.keys(report.latency_ms[stage]).sort(), ['count', 'p50', 'p90', 'p99']);
    assert.equal(report.histograms_seconds[stage].count, report.latency_ms[stage].count);
  }
});

test('GET /metrics as Prometheus asks for it: the text format, parsed, with API, queue and worker families', async () => {
  // Wait for the report to include every job run so far (the JSON test above may have run first or not).
  await pollUntil('the worker report to count the jobs', async () => {
    const reply = (await (await fetch(`${base}/metrics`)).json()) as any;
    return reply.workers[0]?.jobs.completed >= 2 ? true : undefined;
  });
  await (await fetch(`${base}/no-such-route`)).text();
  const response = await fetch(`${base}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(response.headers.get('vary') ?? '', /accept/i);
  const exposition = parseExposition(await response.text());
  const type = (name: string) => exposition.family(name)?.type;

  assert.equal(type('process_resident_memory_bytes'), 'GAUGE');
  assert.equal(type('rerank_http_requests_total'), 'COUNTER');
  const rerankRequests = exposition
    .samples('rerank_http_requests_total')
    .filter((s) => s.labels.route === '/rerank' && s.labels.method === 'POST');
  assert.deepEqual(rerankRequests.map((s) => s.labels.status).sort(), ['200', '202']);
  assert.ok(exposition.samples('rerank_http_requests_total').some((s) => s.labels.route === 'unmatched' && s.labels.status === '404'));
  assert.equal(type('rerank_http_request_duration_seconds'), 'HISTOGRAM');
  assert.equal(exposition.histogram('rerank_http_request_duration_seconds', { route: '/rerank', status: '200' }).count, 1);

  assert.equal(type('rerank_queue_jobs'), 'GAUGE');
  assert.ok((exposition.samples('rerank_queue_jobs').find((s) => s.labels.state === 'completed')?.value ?? 0) >= 1);
  assert.equal(exposition.samples('rerank_redis_up')[0]?.value, 1);
  assert.equal(exposition.samples('rerank_workers').find((s) => s.labels.state === 'ready')?.value, 1);

  const ofWorker = { worker: workerId };
  for (const name of ['rerank_queue_duration_seconds', 'rerank_tokenization_duration_seconds', 'rerank_inference_duration_seconds']) {
    assert.equal(type(name), 'HISTOGRAM', name);
    const series = exposition.histogram(name, ofWorker);
    assert.ok(series.count >= 2, `${name} count ${series.count}`);
    assert.equal(series.buckets['+Inf'], series.count);
    assert.ok(series.sum >= 0);
  }
  assert.equal(type('rerank_pairs_total'), 'COUNTER');
  assert.ok((exposition.samples('rerank_pairs_total').find((s) => s.labels.worker === workerId)?.value ?? 0) >= 3);
  assert.equal(type('rerank_jobs_total'), 'COUNTER');
  const state = exposition.samples('rerank_worker_state').find((s) => s.labels.worker === workerId && s.value === 1);
  assert.equal(state?.labels.state, 'ready');
  assert.ok((exposition.samples('rerank_worker_resident_memory_bytes')[0]?.value ?? 0) > 0);

  const forced = await fetch(`${base}/metrics?format=prometheus`);
  assert.equal(forced.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.ok(parseExposition(await forced.text()).family('rerank_pairs_total'));
  const json = await fetch(`${base}/metrics?format=json`, { headers: { accept: PROMETHEUS_ACCEPT } });
  assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
  await json.json();
});

test('GET /metrics?format=xml is a 400 with a catalogue code', async () => {
  const response = await fetch(`${base}/metrics?format=xml`);
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; details?: { field?: string } } };
  assert.equal(error.code, 'VALIDATION_FAILED');
  assert.equal(error.details?.field, 'format');
});
