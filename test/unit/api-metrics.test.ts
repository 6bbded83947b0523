/**
 * The Prometheus side of GET /metrics without processes: format negotiation, and the exposition text checked by
 * a real parser of the format (test/support/prometheus.ts): names, types, labels and histogram buckets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsFormat } from '../../api/metrics/format.ts';
import { PrometheusMetrics } from '../../api/metrics/prometheus.ts';
import type { ListedWorker } from '../../api/metrics/worker-families.ts';
import type { Metrics } from '../../api/services/status.ts';
import { StageHistograms } from '../../worker/stats.ts';
import { parseExposition } from '../support/prometheus.ts';

const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
  'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

test('metricsFormat: Prometheus when a scraper asks for it, JSON for everyone else', () => {
  assert.equal(metricsFormat(PROMETHEUS_3_ACCEPT, undefined), 'prometheus');
  assert.equal(metricsFormat('text/plain;version=0.0.4;q=1,*/*;q=0.1', undefined), 'prometheus'); // Prometheus 2.0
  assert.equal(metricsFormat('text/plain', undefined), 'prometheus');
  assert.equal(metricsFormat(undefined, undefined), 'json');
  assert.equal(metricsFormat('*/*', undefined), 'json'); // curl
  assert.equal(metricsFormat('application/json, text/plain, */*', undefined), 'json'); // axios: a tie goes to JSON
  assert.equal(metricsFormat('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined), 'json');
  assert.equal(metricsFormat('text/plain;q=0, */*', undefined), 'json');
  assert.equal(metricsFormat('*/*', 'prometheus'), 'prometheus');
  assert.equal(metricsFormat(PROMETHEUS_3_ACCEPT, 'json'), 'json');
});

function worker(id: string, state: ListedWorker['state'], jobs: number): ListedWorker {
  const histograms = new StageHistograms();
  for (let i = 0; i < jobs; i++) histograms.record({ queue: 2, tokenize: 0.5, inference: 30, total: 40 });
  return {
    worker_id: id,
    hostname: 'host',
    pid: 42,
    memory: { rss_mb: 200, vms_mb: 900, heap_used_mb: 20, heap_total_mb: 30 },
    cpu_percent: 50,
    num_threads: 12,
    model: 'tiny',
    model_synthetic: true,
    max_length: 64,
    state,
    cpu_seconds_total: 3.5,
    jobs: { completed: jobs, failed: 1, active: 0 },
    pairs_scored: jobs * 10,
    latency_ms: {},
    histograms_seconds: histograms.snapshot(),
    started_at: new Date().toISOString(),
    reported_at: new Date().toISOString(),
    reported_ms_ago: 250,
  };
}

function snapshot(workers: ListedWorker[]): Metrics {
  return {
    memory: { rss_mb: 150, vms_mb: 800, heap_used_mb: 20, heap_total_mb: 30 },
    cpu_percent: 1,
    num_threads: 10,
    api: { pending_waits: 2, uptime_seconds: 5 },
    redis: 'ok',
    queue: { waiting: 3, active: 1, completed: 7, failed: 0, delayed: 0 },
    queues: { tiny: { waiting: 3, active: 1, completed: 7, failed: 0, delayed: 0 } },
    workers,
  };
}

test('the exposition text parses, with the API, queue and per-worker families', async () => {
  const prometheus = new PrometheusMetrics();
  prometheus.observeRequest({ method: 'POST', route: '/rerank', status: 200 }, 0.012);
  prometheus.observeRequest({ method: 'GET', route: '/jobs/:id', status: 404 }, 0.001);
  const text = await prometheus.render(snapshot([worker('w-a', 'ready', 3), worker('w-b', 'draining', 1)]));
  const exposition = parseExposition(text);
  const type = (name: string) => exposition.family(name)?.type;

  assert.equal(type('process_cpu_user_seconds_total'), 'COUNTER', 'default process metrics');
  assert.equal(type('nodejs_heap_size_used_bytes'), 'GAUGE');

  assert.equal(type('rerank_http_requests_total'), 'COUNTER');
  assert.deepEqual(exposition.samples('rerank_http_requests_total'), [
    { labels: { method: 'POST', route: '/rerank', status: '200' }, value: 1 },
    { labels: { method: 'GET', route: '/jobs/:id', status: '404' }, value: 1 },
  ]);
  assert.equal(type('rerank_http_request_duration_seconds'), 'HISTOGRAM');
  const rerank = exposition.histogram('rerank_http_request_duration_seconds', { route: '/rerank', status: '200' });
  assert.equal(rerank.buckets['0.01'], 0);
  assert.equal(rerank.buckets['0.025'], 1);
  assert.equal(rerank.count, 1);

  assert.equal(type('rerank_queue_jobs'), 'GAUGE');
  assert.deepEqual(
    exposition.samples('rerank_queue_jobs').map((s) => [s.labels.model, s.labels.state, s.value]),
    [['tiny', 'waiting', 3], ['tiny', 'active', 1], ['tiny', 'completed', 7], ['tiny', 'failed', 0], ['tiny', 'delayed', 0]],
  );
  assert.equal(exposition.samples('rerank_redis_up')[0]?.value, 1);
  assert.equal(exposition.samples('rerank_api_pending_waits')[0]?.value, 2);
  assert.equal(exposition.samples('rerank_workers').find((s) => s.labels.state === 'draining')?.value, 1);

  for (const name of [
    'rerank_queue_duration_seconds',
    'rerank_tokenization_duration_seconds',
    'rerank_inference_duration_seconds',
    'rerank_job_duration_seconds',
  ]) {
    assert.equal(type(name), 'HISTOGRAM', name);
    assert.deepEqual([...new Set(exposition.samples(`${name}_count`).map((s) => s.labels.worker))], ['w-a', 'w-b']);
    const series = exposition.histogram(name, { worker: 'w-a' });
    assert.equal(series.count, 3, name);
    assert.equal(series.buckets['+Inf'], 3, name);
  }
  const inference = exposition.histogram('rerank_inference_duration_seconds', { worker: 'w-a' });
  assert.equal(inference.buckets['0.025'], 0);
  assert.equal(inference.buckets['0.05'], 3, '30 ms falls in the 50 ms bucket, and every bucket above');
  assert.equal(inference.buckets['300'], 3);
  assert.ok(Math.abs(inference.sum - 0.09) < 1e-9);
  assert.equal(exposition.histogram('rerank_inference_duration_seconds', { worker: 'w-b' }).count, 1);

  assert.equal(type('rerank_pairs_total'), 'COUNTER');
  assert.deepEqual(exposition.samples('rerank_pairs_total'), [
    { labels: { worker: 'w-a' }, value: 30 },
    { labels: { worker: 'w-b' }, value: 10 },
  ]);
  assert.equal(type('rerank_jobs_total'), 'COUNTER');
  assert.deepEqual(exposition.samples('rerank_jobs_total')[0], { labels: { worker: 'w-a', outcome: 'completed' }, value: 3 });
  const inState = exposition.samples('rerank_worker_state').filter((s) => s.value === 1);
  assert.deepEqual(inState.map((s) => s.labels), [{ worker: 'w-a', state: 'ready' }, { worker: 'w-b', state: 'draining' }]);
  assert.equal(exposition.samples('rerank_worker_resident_memory_bytes')[0]?.value, 200 * 1024 * 1024);
  assert.equal(type('rerank_worker_cpu_seconds_total'), 'COUNTER');
  assert.equal(exposition.samples('rerank_worker_info')[0]?.labels.model, 'tiny');
});

test('without Redis: no queue series, rerank_redis_up 0, still parseable', async () => {
  const text = await new PrometheusMetrics().render({ ...snapshot([]), redis: 'unavailable', queue: null, queues: null });
  const exposition = parseExposition(text);
  assert.equal(exposition.samples('rerank_redis_up')[0]?.value, 0);
  assert.equal(exposition.family('rerank_queue_jobs')?.type, 'GAUGE');
  assert.deepEqual(exposition.samples('rerank_queue_jobs'), []);
  assert.equal(exposition.family('rerank_inference_duration_seconds')?.type, 'HISTOGRAM');
  assert.deepEqual(exposition.samples('rerank_inference_duration_seconds_count'), []);
});
