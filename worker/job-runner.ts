/**
 * The BullMQ processor around the scoring one: every job is tracked (so a stop can hand it back), ordinary jobs
 * run side by side, and a job that was active when some worker died (a suspect) runs alone, charged with a crash
 * only if its worker dies during that solo run (crash-guard.ts). At WORKER_CRASH_LIMIT it fails WORKER_CRASHED.
 */
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Logger } from '../shared/logger.ts';
import { formatFailure } from '../shared/queue.ts';
import type { ActiveJobs } from './active-jobs.ts';
import type { CrashGuard } from './crash-guard.ts';
import type { SoloLane } from './solo-lane.ts';

export interface JobRunnerOptions<R> {
  score: (job: Job) => Promise<R>;
  activeJobs: ActiveJobs;
  lane: SoloLane;
  guard: CrashGuard;
  logger: Logger;
}

export function crashedMessage(crashes: number): string {
  return `The job stopped its worker ${crashes} time${crashes === 1 ? '' : 's'} while running alone; it was given up.`;
}

export function createJobRunner<R>(options: JobRunnerOptions<R>): (job: Job, token?: string) => Promise<R> {
  const { score, activeJobs, lane, guard, logger } = options;

  const notHandedBack = (signal: AbortSignal) => {
    if (signal.aborted) throw new WaitingError('handed back before it started');
  };

  const runSolo = (job: Job, signal: AbortSignal) =>
    lane.exclusive(async () => {
      notHandedBack(signal);
      const id = String(job.id);
      const crashes = await guard.beginSolo(id);
      if (crashes >= guard.limit) {
        logger.error({ jobId: id, crashes, stalls: job.stalledCounter }, 'job keeps stopping its worker; giving it up');
        throw new UnrecoverableError(formatFailure('WORKER_CRASHED', crashedMessage(crashes)));
      }
      logger.info({ jobId: id, crashes, stalls: job.stalledCounter }, 'job was active when a worker died: running it alone');
      try {
        return await score(job);
      } finally {
        await guard.endSolo(id).catch(() => undefined);
      }
    });

  return async (job, token) => {
    const suspect = job.stalledCounter > 0;
    try {
      return await activeJobs.run(job, token ?? '', (signal) =>
        suspect
          ? runSolo(job, signal)
          : lane.shared(async () => {
              notHandedBack(signal);
              return score(job);
            }),
      );
    } catch (error) {
      // Handed back in the middle of its solo run: that run did not kill the worker.
      if (suspect && error instanceof WaitingError) await guard.endSolo(String(job.id)).catch(() => undefined);
      throw error;
    }
  };
}
