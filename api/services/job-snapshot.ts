/**
 * What POST /rerank needs to know before adding a job, in ONE Redis round trip (a MULTI, so the reads agree with
 * each other): whether a job with this id exists and has finished, its result when completed, whether its scores
 * are still stored, and the queue's depth. It replaces getJob + getJobState + EXISTS + getJobCounts, four round
 * trips of which a new job (the common case) needed three. All keys share the queue's hash tag, so the MULTI
 * runs on one node of a Redis Cluster too.
 */
import type { RerankJobResult } from '../../shared/queue.ts';
import { resultKey } from '../../shared/results.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import type { JobsDeps } from './jobs.ts';

export type JobSnapshot = {
  /** Jobs waiting to run (waiting + prioritized): what QUEUE_FULL is decided on. */
  depth: number;
} & (
  | { state: 'none' }
  /** Queued, prioritized, delayed for a retry or active: a request joins it. */
  | { state: 'pending' }
  /** Completed, its scores still stored: a request is answered from it. */
  | { state: 'reusable'; result: RerankJobResult }
  /** Failed, or completed but its scores expired: as good as gone, a request runs it again. */
  | { state: 'stale' }
);

type Reply = [error: Error | null, value: unknown][];

/** One MULTI: see the module comment. */
export async function snapshotJob(deps: Pick<JobsDeps, 'redis' | 'prefix'> & { queue: RerankQueue }, jobId: string): Promise<JobSnapshot> {
  const { keys } = deps.queue;
  const replies = (await deps.redis
    .multi()
    .hmget(deps.queue.toKey(jobId), 'timestamp', 'returnvalue')
    .zscore(keys.completed!, jobId)
    .zscore(keys.failed!, jobId)
    .exists(resultKey(deps.prefix, jobId))
    .llen(keys.wait!)
    .zcard(keys.prioritized!)
    .exec()) as Reply | null;
  if (!replies) throw new Error('MULTI was aborted');
  const values = replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const [fields, completedAt, failedAt, scoresStored, waiting, prioritized] = values;
  const [timestamp, returnvalue] = fields as (string | null)[];
  const depth = Number(waiting) + Number(prioritized);
  if (timestamp === null || timestamp === undefined) return { state: 'none', depth };
  if (failedAt !== null) return { state: 'stale', depth };
  if (completedAt === null) return { state: 'pending', depth };
  if (scoresStored !== 1 || !returnvalue) return { state: 'stale', depth };
  return { state: 'reusable', result: JSON.parse(returnvalue) as RerankJobResult, depth };
}
