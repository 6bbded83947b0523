/**
 * Stopping the BullMQ worker without losing or half-doing a job: it stops fetching at once and lets the active
 * jobs finish for up to the grace (SHUTDOWN_GRACE_MS); the jobs still running then are handed back to the queue,
 * where another worker (or this one's successor) runs them from the start.
 */
import type { Logger } from '../shared/logger.ts';
import type { ActiveJobs } from './active-jobs.ts';

export interface DrainOptions {
  worker: { close(force?: boolean): Promise<void> };
  activeJobs: ActiveJobs;
  graceMs: number;
  logger: Logger;
  /** Close without waiting (Redis is unreachable and nothing runs: there is nothing to wait for). */
  force?: boolean;
}

/** Resolves with the ids of the jobs handed back once the worker is closed. */
export async function drainWorker(options: DrainOptions): Promise<string[]> {
  const { worker, activeJobs, graceMs, logger } = options;
  const closed = worker.close(options.force ?? false);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace over'>((resolve) => {
    timer = setTimeout(() => resolve('grace over'), graceMs);
  });
  const first = await Promise.race([closed.then(() => 'closed' as const), graceOver]);
  clearTimeout(timer);
  let handedBack: string[] = [];
  if (first === 'grace over' && activeJobs.size > 0) {
    handedBack = await activeJobs.handBackAll(logger);
    logger.warn({ handedBack, graceMs }, 'grace over: jobs still running were handed back to the queue');
  }
  await closed;
  return handedBack;
}
