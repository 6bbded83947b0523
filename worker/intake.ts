/**
 * Whether this worker process fetches new jobs, /rerank jobs and bulk chunks alike. Several reasons may hold it
 * (memory above the soft mark, a suspect job running alone); it fetches again only when none is left. Pausing
 * never waits for the active jobs: they go on.
 */
import type { Logger } from '../shared/logger.ts';

export type IntakeHold = 'memory' | 'solo';

/** The slice of BullMQ's Worker this needs. */
export interface PausableWorker {
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): Promise<void> | void;
}

export class Intake {
  private readonly holds = new Set<IntakeHold>();
  private stopped = false;

  constructor(
    private readonly workers: readonly PausableWorker[],
    private readonly logger: Logger,
  ) {}

  get held(): boolean {
    return this.holds.size > 0;
  }

  hold(reason: IntakeHold, fields: Record<string, unknown> = {}): void {
    if (this.holds.has(reason)) return;
    const wasHeld = this.held;
    this.holds.add(reason);
    this.logger.info({ reason, ...fields }, 'intake paused: no new jobs for now');
    if (!wasHeld && !this.stopped) for (const worker of this.workers) void worker.pause(true);
  }

  release(reason: IntakeHold, fields: Record<string, unknown> = {}): void {
    if (!this.holds.delete(reason)) return;
    this.logger.info({ reason, ...fields }, 'intake hold released');
    if (!this.held && !this.stopped) for (const worker of this.workers) void worker.resume();
  }

  /** The worker is closing: never resume it again. */
  stop(): void {
    this.stopped = true;
  }
}
