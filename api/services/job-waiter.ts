/**
 * Waiting for jobs at scale: ONE completed and ONE failed listener on the process's QueueEvents dispatch to a map
 * of pending waits, each with its own timer. No per-request listeners (BullMQ's waitUntilFinished adds one per
 * call, warns past 10 and races with job removal), and nothing is left behind when a wait ends.
 */
import type { RerankJobResult } from '../../shared/queue.ts';

export type WaitOutcome =
  | { status: 'completed'; result: RerankJobResult }
  | { status: 'failed'; failedReason: string }
  /** The wait ran out (or was released at shutdown): the job carries on and the client polls. */
  | { status: 'timeout' }
  /** Redis went away while waiting: completion events may be lost, so the client is told at once. */
  | { status: 'unavailable' };

/** The slice of BullMQ's QueueEvents the waiter listens to. */
export interface CompletionEvents {
  on(event: 'completed', listener: (args: { jobId: string; returnvalue: RerankJobResult }) => void): unknown;
  on(event: 'failed', listener: (args: { jobId: string; failedReason: string }) => void): unknown;
}

export interface PendingWait {
  readonly promise: Promise<WaitOutcome>;
  /** Stops waiting without an outcome (the request failed for another reason). */
  cancel(): void;
}

interface Entry {
  resolve(outcome: WaitOutcome): void;
  timer: NodeJS.Timeout;
}

export class JobWaiter {
  private readonly pending = new Map<string, Set<Entry>>();
  private closed = false;

  /** One source per queue (one per served model): their job ids never collide, so one map serves them all. */
  constructor(...sources: CompletionEvents[]) {
    for (const events of sources) {
      events.on('completed', ({ jobId, returnvalue }) =>
        this.settle(jobId, { status: 'completed', result: returnvalue }),
      );
      events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, { status: 'failed', failedReason }));
    }
  }

  /** Pending waits, for /metrics: it must drop back to 0 when requests are done. */
  get size(): number {
    let size = 0;
    for (const entries of this.pending.values()) size += entries.size;
    return size;
  }

  /**
   * Registers a wait for a job. Register BEFORE looking at or adding the job: a completion after this call is
   * delivered here, one before it is visible in the job's state, so none is missed.
   */
  wait(jobId: string, timeoutMs: number): PendingWait {
    // Shutting down: a request that got past the door still answers at once (202), never holds the close up.
    if (this.closed) return { promise: Promise.resolve({ status: 'timeout' }), cancel: () => undefined };
    let entry!: Entry;
    const promise = new Promise<WaitOutcome>((resolve) => {
      entry = {
        resolve: (outcome) => {
          clearTimeout(entry.timer);
          this.remove(jobId, entry);
          resolve(outcome);
        },
        timer: setTimeout(() => entry.resolve({ status: 'timeout' }), timeoutMs),
      };
    });
    let entries = this.pending.get(jobId);
    if (!entries) this.pending.set(jobId, (entries = new Set()));
    entries.add(entry);
    return { promise, cancel: () => entry.resolve({ status: 'timeout' }) };
  }

  /** Resolves every wait on a job; also used when a state check finds the job already finished. */
  settle(jobId: string, outcome: WaitOutcome): void {
    const entries = this.pending.get(jobId);
    if (!entries) return;
    for (const entry of [...entries]) entry.resolve(outcome);
  }

  /** Resolves every wait at once: at shutdown ('timeout', the jobs carry on) or when Redis is lost. */
  releaseAll(outcome: WaitOutcome): void {
    for (const jobId of [...this.pending.keys()]) this.settle(jobId, outcome);
  }

  /** At shutdown: releases every wait as a timeout (the jobs carry on) and answers later waits at once. */
  close(): void {
    this.closed = true;
    this.releaseAll({ status: 'timeout' });
  }

  private remove(jobId: string, entry: Entry): void {
    const entries = this.pending.get(jobId);
    if (!entries) return;
    entries.delete(entry);
    if (entries.size === 0) this.pending.delete(jobId);
  }
}
