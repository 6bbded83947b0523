/**
 * What this worker has done: job counters and per-stage latency over a bounded window of recent jobs. The
 * processor records, the reporter reads; a ring buffer per stage keeps memory flat however long the worker runs.
 */

export const LATENCY_STAGES = ['queue', 'tokenize', 'inference', 'total'] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];
export type StageTimings = Record<LatencyStage, number>;
export type LatencySummary = Record<LatencyStage, { p50: number; p99: number; count: number }>;

/** 1,000 jobs: enough for a stable p99, small enough that sorting it every heartbeat costs nothing. */
export const DEFAULT_LATENCY_WINDOW = 1_000;

const round1 = (value: number) => Math.round(value * 10) / 10;

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
      const stats = { p50: round1(percentile(sorted, 50)), p99: round1(percentile(sorted, 99)), count: sorted.length };
      return [stage, stats] as const;
    });
    return Object.fromEntries(entries) as LatencySummary;
  }
}

/** Counters are per attempt: a job retried twice and then completed counts two failures and one completion. */
export class WorkerStats {
  completed = 0;
  failed = 0;
  active = 0;
  readonly latency: LatencyWindow;

  constructor(windowSize = DEFAULT_LATENCY_WINDOW) {
    this.latency = new LatencyWindow(windowSize);
  }

  jobs(): { completed: number; failed: number; active: number } {
    return { completed: this.completed, failed: this.failed, active: this.active };
  }
}
