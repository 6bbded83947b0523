/**
 * What this worker has done: job counters, per-stage latency over a bounded window of recent jobs (percentiles
 * for people) and cumulative per-stage histograms with fixed buckets (for Prometheus). The processor records, the
 * reporter reads; a ring buffer per stage and fixed buckets keep memory flat however long the worker runs.
 */
import type { CumulativeHistogram } from '../shared/worker-registry.ts';
import { round1 } from '../shared/figures.ts';

export const LATENCY_STAGES = ['queue', 'tokenize', 'inference', 'total'] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];
export type StageTimings = Record<LatencyStage, number>;
export type LatencySummary = Record<LatencyStage, { p50: number; p90: number; p99: number; count: number }>;

/** 1,000 jobs: enough for a stable p99, small enough that sorting it every heartbeat costs nothing. */
export const DEFAULT_LATENCY_WINDOW = 1_000;

/** Nearest-rank percentile of an ascending array; 0 when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export class LatencyWindow {
  private readonly samples = new Map<LatencyStage, number[]>(LATENCY_STAGES.map((stage) => [stage, []]));
  private next = 0;

  constructor(private readonly capacity = DEFAULT_LATENCY_WINDOW) {}

  record(timings: StageTimings): void {
    for (const stage of LATENCY_STAGES) this.samples.get(stage)![this.next] = timings[stage];
    this.next = (this.next + 1) % this.capacity;
  }

  summary(): LatencySummary {
    const entries = LATENCY_STAGES.map((stage) => {
      const sorted = [...this.samples.get(stage)!].sort((a, b) => a - b);
      const stats = {
        p50: round1(percentile(sorted, 50)),
        p90: round1(percentile(sorted, 90)),
        p99: round1(percentile(sorted, 99)),
        count: sorted.length,
      };
      return [stage, stats] as const;
    });
    return Object.fromEntries(entries) as LatencySummary;
  }
}

/**
 * Upper bounds in seconds, the same for every stage: from a 1 ms queue wait for a small job to the minutes a
 * 10,000-document job can spend in a busy queue. Fixed, so that every worker's buckets add up.
 */
export const STAGE_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
] as const;

/** One cumulative histogram per stage, observed in milliseconds and kept in seconds. */
export class StageHistograms {
  private readonly perStage = new Map(
    LATENCY_STAGES.map((stage) => [stage, { buckets: STAGE_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 }]),
  );

  record(timings: StageTimings): void {
    for (const stage of LATENCY_STAGES) {
      const histogram = this.perStage.get(stage)!;
      const seconds = timings[stage] / 1_000;
      const bucket = STAGE_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
      if (bucket !== -1) histogram.buckets[bucket]! += 1;
      histogram.sum += seconds;
      histogram.count += 1;
    }
  }

  snapshot(): Record<LatencyStage, CumulativeHistogram> {
    const entries = LATENCY_STAGES.map((stage) => {
      const { buckets, sum, count } = this.perStage.get(stage)!;
      let running = 0;
      const counts = buckets.map((inBucket) => (running += inBucket));
      const histogram: CumulativeHistogram = { le: [...STAGE_BUCKETS_SECONDS], counts, sum, count };
      return [stage, histogram] as const;
    });
    return Object.fromEntries(entries) as Record<LatencyStage, CumulativeHistogram>;
  }
}

/** Counters are per attempt: a job retried twice and then completed counts two failures and one completion. */
export class WorkerStats {
  completed = 0;
  failed = 0;
  active = 0;
  pairsScored = 0;
  readonly latency: LatencyWindow;
  readonly histograms = new StageHistograms();

  constructor(windowSize = DEFAULT_LATENCY_WINDOW) {
    this.latency = new LatencyWindow(windowSize);
  }

  recordCompleted(timings: StageTimings, pairs: number): void {
    this.latency.record(timings);
    this.histograms.record(timings);
    this.completed += 1;
    this.pairsScored += pairs;
  }

  jobs(): { completed: number; failed: number; active: number } {
    return { completed: this.completed, failed: this.failed, active: this.active };
  }
}
