/**
 * Publishes this worker's metrics to Redis every heartbeat. Each report expires after three missed beats, so a
 * worker that is killed drops out of /metrics by itself; a graceful close removes it at once. Redis being away
 * only costs reports: failures are logged once per outage and the next beat tries again.
 */
import type { Logger } from '../shared/logger.ts';
import type { RedisClient } from '../shared/queue.ts';
import { ProcessStatsSampler } from '../shared/process-stats.ts';
import {
  publishWorkerReport,
  removeWorkerReport,
  reportTtlMs,
  type WorkerReport,
  type WorkerState,
} from '../shared/worker-registry.ts';
import type { HealthFile } from './health-file.ts';
import type { WorkerStats } from './stats.ts';

/** Who this worker is; fixed for its lifetime. */
export interface WorkerIdentity {
  workerId: string;
  hostname: string;
  pid: number;
  model: string;
  synthetic: boolean;
  maxLength: number;
  startedAt: Date;
}

export interface ReporterOptions {
  /** A fail-fast connection (the 'producer' role), so a beat during an outage errors instead of queueing. */
  redis: RedisClient;
  /** keyPrefix(config): the registry lives under the queue's hash tag. */
  prefix: string;
  intervalMs: number;
  identity: WorkerIdentity;
  stats: WorkerStats;
  logger: Logger;
  /** Touched after each published report (WORKER_HEALTH_FILE), for the container's HEALTHCHECK. */
  healthFile?: HealthFile;
}

function cpuSecondsTotal(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

export class WorkerReporter {
  private readonly sampler = new ProcessStatsSampler();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  /** The publish a state change triggered, awaited by close like the beat's, so no report outlives close. */
  private stateInFlight: Promise<void> = Promise.resolve();
  private failing = false;
  private closing: Promise<void> | undefined;
  private started = false;
  private state: WorkerState = 'loading';

  constructor(private readonly options: ReporterOptions) {}

  /**
   * What the worker is doing now (main sets ready once it consumes; the watchdog and shutdown set draining and
   * recycling). Published at once, not at the next beat, so /ready and /metrics see the change promptly; the
   * promise settles once it is published (never rejects: a failed publish is retried by the next beat).
   */
  setState(state: WorkerState): Promise<void> {
    if (state === this.state) return this.stateInFlight;
    this.state = state;
    if (this.started && !this.closing) this.stateInFlight = this.publish();
    return this.stateInFlight;
  }

  /** Publishes the first report (so the worker is listed before it says it is ready), then one per beat. */
  async start(): Promise<void> {
    const { redis, healthFile } = this.options;
    await healthFile?.remove();
    // The connection is fail-fast: a beat sent before it is up would only log a spurious failure.
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    if (this.closing) return;
    this.started = true;
    await this.beat();
  }

  private report(): WorkerReport {
    const { identity, stats } = this.options;
    return {
      worker_id: identity.workerId,
      hostname: identity.hostname,
      pid: identity.pid,
      ...this.sampler.sample(),
      model: identity.model,
      model_synthetic: identity.synthetic,
      max_length: identity.maxLength,
      state: this.state,
      cpu_seconds_total: cpuSecondsTotal(),
      jobs: stats.jobs(),
      pairs_scored: stats.pairsScored,
      latency_ms: stats.latency.summary(),
      histograms_seconds: stats.histograms.snapshot(),
      started_at: identity.startedAt.toISOString(),
      reported_at: new Date().toISOString(),
    };
  }

  /** Stops the beat and removes this worker's entry; idempotent, and never throws (the entry expires anyway). */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all([this.inFlight, this.stateInFlight]);
    const { redis, prefix, identity, logger } = this.options;
    try {
      await removeWorkerReport(redis, prefix, identity.workerId);
    } catch (error) {
      logger.warn({ err: error }, 'worker report not removed; it expires by itself');
    }
    await this.options.healthFile?.remove();
  }

  private beat(): Promise<void> {
    this.inFlight = this.publish().finally(() => {
      if (this.closing) return;
      this.timer = setTimeout(() => void this.beat(), this.options.intervalMs);
      // The beat alone must never keep the process alive.
      this.timer.unref();
    });
    return this.inFlight;
  }

  private async publish(): Promise<void> {
    const { redis, prefix, intervalMs, logger, healthFile } = this.options;
    try {
      const report = this.report();
      await publishWorkerReport(redis, prefix, report, reportTtlMs(intervalMs));
      await healthFile?.touch(report.reported_at);
      if (this.failing) logger.info('worker report published again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) logger.warn({ err: error }, 'worker report not published; retrying every heartbeat');
      this.failing = true;
    }
  }
}
