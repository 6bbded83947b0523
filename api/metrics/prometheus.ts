/**
 * GET /metrics in the Prometheus text format. The API's own figures live in a private prom-client registry (the
 * default process metrics, request count and duration by route and status); the queue and the workers come from
 * the same snapshot the JSON answer is built from, read once per scrape.
 */
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type PrometheusContentType,
} from 'prom-client';
import { WORKER_STATES } from '../../shared/worker-registry.ts';
import type { Metrics } from '../services/status.ts';
import { workerFamilies } from './worker-families.ts';

/** From a 5 ms /health to a sync wait of up to MAX_SYNC_WAIT_MS (60 s by default). */
const HTTP_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HTTP_LABELS = ['method', 'route', 'status'] as const;
type HttpLabel = (typeof HTTP_LABELS)[number];

const QUEUE_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed'] as const;

export interface RequestLabels {
  method: string;
  /** The route pattern (`/jobs/:id`), never the raw URL: one series per route, not per job id. */
  route: string;
  status: number;
}

export class PrometheusMetrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new Registry();
  private readonly requests: Counter<HttpLabel>;
  private readonly durations: Histogram<HttpLabel>;
  private readonly queueJobs: Gauge<'model' | 'state'>;
  private readonly redisUp: Gauge;
  private readonly pendingWaits: Gauge;
  private readonly workers: Gauge<'state'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'rerank_http_requests_total',
      help: 'HTTP requests answered by the API.',
      labelNames: HTTP_LABELS,
      registers,
    });
    this.durations = new Histogram({
      name: 'rerank_http_request_duration_seconds',
      help: 'Time from request received to response sent.',
      labelNames: HTTP_LABELS,
      buckets: HTTP_BUCKETS_SECONDS,
      registers,
    });
    this.queueJobs = new Gauge({
      name: 'rerank_queue_jobs',
      help: "Jobs in a served model's queue by state.",
      labelNames: ['model', 'state'],
      registers,
    });
    this.redisUp = new Gauge({
      name: 'rerank_redis_up',
      help: '1 when the API reached Redis for this scrape.',
      registers,
    });
    this.pendingWaits = new Gauge({
      name: 'rerank_api_pending_waits',
      help: 'Sync requests of this API waiting for their job.',
      registers,
    });
    this.workers = new Gauge({
      name: 'rerank_workers',
      help: 'Live workers by state.',
      labelNames: ['state'],
      registers,
    });
  }

  observeRequest({ method, route, status }: RequestLabels, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.durations.observe(labels, seconds);
  }

  async render(snapshot: Metrics): Promise<string> {
    this.redisUp.set(snapshot.redis === 'ok' ? 1 : 0);
    this.pendingWaits.set(snapshot.api.pending_waits);
    // Without Redis the queue is unknown: no series rather than stale ones (rerank_redis_up says why).
    this.queueJobs.reset();
    for (const [model, counts] of Object.entries(snapshot.queues ?? {})) {
      for (const state of QUEUE_STATES) this.queueJobs.set({ model, state }, counts[state]);
    }
    for (const state of WORKER_STATES) {
      this.workers.set({ state }, snapshot.workers.filter((worker) => worker.state === state).length);
    }
    const workers = AggregatorRegistry.aggregate<PrometheusContentType>([workerFamilies(snapshot.workers)]);
    return Registry.merge([this.registry, workers]).metrics();
  }
}
