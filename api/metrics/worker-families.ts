/**
 * The workers' own reports as Prometheus metric families, one series per worker (label `worker` = its id). The
 * worker keeps cumulative counters and fixed-bucket histograms since it started, so these are real counters and
 * histograms: Prometheus aggregates across workers itself (`sum without (worker)`), and `rate()` copes with a
 * restarted worker, which comes back under a new id. The families are plain data in prom-client's JSON shape
 * (what `registry.getMetricsAsJSON()` returns), turned into a registry by prom-client's own aggregate().
 */
import { WORKER_STATES, type CumulativeHistogram, type WorkerReport } from '../../shared/worker-registry.ts';

type Labels = Record<string, string | number>;

interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  /** With one worker per label set nothing is summed; aggregate() requires the field. */
  aggregator: 'sum';
  values: Sample[];
}

export type ListedWorker = WorkerReport & { reported_ms_ago: number };

const MB = 1024 * 1024;

/** Report stage key -> metric name, after TEI's te_queue_duration, te_tokenization_duration, te_inference_duration. */
const STAGE_HISTOGRAMS = [
  ['queue', 'rerank_queue_duration_seconds', 'Time a job waited in the queue before a worker took it.'],
  ['tokenize', 'rerank_tokenization_duration_seconds', "Time spent tokenizing a job's pairs."],
  ['inference', 'rerank_inference_duration_seconds', "A job's share of model inference time."],
  ['total', 'rerank_job_duration_seconds', 'Queue wait plus processing time of a job.'],
] as const;

const family = (type: MetricFamily['type'], name: string, help: string, values: Sample[]): MetricFamily => ({
  name,
  help,
  type,
  aggregator: 'sum',
  values,
});

function histogramSamples(name: string, worker: string, histogram: CumulativeHistogram): Sample[] {
  const bucket = (le: number | string, value: number): Sample => ({
    metricName: `${name}_bucket`,
    value,
    labels: { le, worker },
  });
  return [
    ...histogram.le.map((le, i) => bucket(le, histogram.counts[i] ?? 0)),
    bucket('+Inf', histogram.count),
    { metricName: `${name}_sum`, value: histogram.sum, labels: { worker } },
    { metricName: `${name}_count`, value: histogram.count, labels: { worker } },
  ];
}

/** One sample per worker, labelled with its id. */
type PerWorker = [type: 'gauge' | 'counter', name: string, help: string, pick: (worker: ListedWorker) => number];

const PER_WORKER: PerWorker[] = [
  ['gauge', 'rerank_worker_resident_memory_bytes', 'Worker resident set size.', (w) => w.memory.rss_mb * MB],
  ['gauge', 'rerank_worker_virtual_memory_bytes', 'Worker virtual memory size.', (w) => w.memory.vms_mb * MB],
  ['gauge', 'rerank_worker_heap_used_bytes', 'Worker V8 heap in use.', (w) => w.memory.heap_used_mb * MB],
  ['gauge', 'rerank_worker_heap_total_bytes', 'Worker V8 heap reserved.', (w) => w.memory.heap_total_mb * MB],
  ['gauge', 'rerank_worker_cpu_percent', 'Worker CPU use between its last two reports.', (w) => w.cpu_percent],
  ['counter', 'rerank_worker_cpu_seconds_total', 'Worker user and system CPU time.', (w) => w.cpu_seconds_total],
  ['gauge', 'rerank_worker_threads', 'Worker OS threads.', (w) => w.num_threads],
  ['gauge', 'rerank_worker_report_age_seconds', "Age of the worker's last report.", (w) => w.reported_ms_ago / 1_000],
  ['gauge', 'rerank_worker_active_jobs', 'Jobs the worker is running now.', (w) => w.jobs.active],
  ['counter', 'rerank_pairs_total', '(query, document) pairs scored.', (w) => w.pairs_scored],
];

function perWorkerFamilies(workers: readonly ListedWorker[]): MetricFamily[] {
  return PER_WORKER.map(([type, name, help, pick]) =>
    family(type, name, help, workers.map((worker) => ({ value: pick(worker), labels: { worker: worker.worker_id } }))),
  );
}

function jobFamily(workers: readonly ListedWorker[]): MetricFamily {
  const jobs = workers.flatMap((worker) =>
    (['completed', 'failed'] as const).map((outcome) => ({
      value: worker.jobs[outcome],
      labels: { worker: worker.worker_id, outcome },
    })),
  );
  return family('counter', 'rerank_jobs_total', 'Job attempts the worker finished, by outcome.', jobs);
}

function identityFamilies(workers: readonly ListedWorker[]): MetricFamily[] {
  const info = workers.map((worker) => ({
    value: 1,
    labels: {
      worker: worker.worker_id,
      hostname: worker.hostname,
      pid: String(worker.pid),
      model: worker.model,
      synthetic: String(worker.model_synthetic),
      max_length: String(worker.max_length),
    },
  }));
  const states = workers.flatMap((worker) =>
    WORKER_STATES.map((state) => ({
      value: worker.state === state ? 1 : 0,
      labels: { worker: worker.worker_id, state },
    })),
  );
  return [
    family('gauge', 'rerank_worker_info', 'Always 1; the labels say what the worker runs.', info),
    family('gauge', 'rerank_worker_state', '1 for the state the worker is in, 0 for the others.', states),
  ];
}

export function workerFamilies(workers: readonly ListedWorker[]): MetricFamily[] {
  const histograms = STAGE_HISTOGRAMS.map(([stage, name, help]) =>
    family(
      'histogram',
      name,
      help,
      workers.flatMap((worker) => {
        const histogram = worker.histograms_seconds[stage];
        return histogram ? histogramSamples(name, worker.worker_id, histogram) : [];
      }),
    ),
  );
  return [...identityFamilies(workers), ...perWorkerFamilies(workers), jobFamily(workers), ...histograms];
}
