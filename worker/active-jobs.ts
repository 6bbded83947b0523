/**
 * The jobs this worker is running, so that a stop can hand back those that would not finish in time: each goes
 * back to the queue (BullMQ's moveToWait, under this worker's lock) and its run ends with WaitingError, which
 * BullMQ takes as "moved elsewhere", neither completed nor failed. Another worker then runs it from the start;
 * nothing half-done is stored. The abandoned computation is simply dropped, as the process exits next.
 */
import { WaitingError, type Job } from 'bullmq';
import type { Logger } from '../shared/logger.ts';

interface Run {
  job: Job;
  token: string;
  /** Set synchronously by handBackAll: from then on the run's own result is ignored. */
  claimed: boolean;
  claim: () => void;
  abort: AbortController;
  /** Resolves true when the job is back in the queue, false when moving it failed. */
  handedBack: Promise<boolean>;
  settleHandBack: (ok: boolean) => void;
}

export class ActiveJobs {
  private readonly runs = new Map<string, Run>();

  get size(): number {
    return this.runs.size;
  }

  /**
   * Runs `work` for the job; rejects with WaitingError if the job is handed back before it ends. `work` gets a
   * signal that aborts at the hand-back: work that has not started by then must not start.
   */
  async run<T>(job: Job, token: string, work: (handedBack: AbortSignal) => Promise<T>): Promise<T> {
    const run = newRun(job, token);
    const id = String(job.id);
    this.runs.set(id, run);
    const working = work(run.abort.signal);
    try {
      await Promise.race([working.then(noop, noop), new Promise<void>((resolve) => (run.claim = resolve))]);
      if (!run.claimed) {
        this.runs.delete(id);
        return await working;
      }
      working.catch(noop);
      if (await run.handedBack) throw new WaitingError(`job ${id} handed back to the queue`);
      return await working;
    } finally {
      this.runs.delete(id);
    }
  }

  /** Moves every running job back to the queue; returns the ids handed back. */
  async handBackAll(logger: Logger): Promise<string[]> {
    const runs = [...this.runs.values()];
    for (const run of runs) {
      run.claimed = true;
      run.abort.abort();
      run.claim();
    }
    const results = await Promise.all(
      runs.map(async (run) => {
        try {
          await run.job.moveToWait(run.token);
          run.settleHandBack(true);
          return String(run.job.id);
        } catch (error) {
          logger.error({ err: error, jobId: run.job.id }, 'could not hand the job back; letting it run');
          run.settleHandBack(false);
          return undefined;
        }
      }),
    );
    return results.filter((id): id is string => id !== undefined);
  }
}

const noop = () => undefined;

function newRun(job: Job, token: string): Run {
  let settleHandBack!: (ok: boolean) => void;
  const handedBack = new Promise<boolean>((resolve) => (settleHandBack = resolve));
  return { job, token, claimed: false, claim: noop, abort: new AbortController(), handedBack, settleHandBack };
}
