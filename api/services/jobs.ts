/** GET /jobs/:id: a BullMQ job seen as the API's job status, with the same ranking a sync call returns. */
import type { Job, JobState } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ERRORS, ServiceError, exposesMessage } from '../../shared/errors.ts';
import { keyPrefix, parseFailure, type RedisClient, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { decodeInlineScores, readScores } from '../../shared/results.ts';
import type { JobStatus, JobStatusValue } from '../../shared/schemas/rerank.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import { rankResult } from './rankings.ts';

export interface JobsDeps {
  queue: RerankQueue;
  /** Every served model's queue, for a status lookup by id alone; absent: `queue` only. */
  queues?: readonly RerankQueue[];
  /** Where the scores of completed jobs are (shared/results.ts). */
  redis: RedisClient;
  prefix: string;
  withRedis<T>(operation: () => Promise<T>): Promise<T>;
}

/** What job lookups need, built from the app's plugins: one place for every route that reads /rerank jobs. */
export function jobsDeps(app: FastifyInstance, config: Config): JobsDeps {
  const { rerankQueue: queue, rerankQueues, redis, withRedis } = app;
  return { queue, queues: [...rerankQueues.values()], redis, prefix: keyPrefix(config), withRedis };
}

/** Delayed means "waiting for a retry", prioritized and waiting-children are still waiting: all 'queued'. */
export function statusOf(state: JobState | 'unknown'): JobStatusValue {
  if (state === 'active' || state === 'completed' || state === 'failed') return state;
  return 'queued';
}

/** A job's failure as a catalogue error; 5xx failures keep the catalogue message so internals never leak. */
export function failureOf(failedReason: string | undefined): ServiceError {
  const { code, message } = parseFailure(failedReason);
  return new ServiceError(code, exposesMessage(code) ? message : ERRORS[code].message);
}

/** A timestamp in ms as ISO 8601, as every job view shows times. */
export const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** `scores`: a completed job's, from its result key. */
export function jobStatus(
  job: Job<RerankJobData, RerankJobResult>,
  state: JobState | 'unknown',
  topK?: number,
  scores?: readonly number[],
): JobStatus {
  const status = statusOf(state);
  const view: JobStatus = { job_id: String(job.id), status, created_at: iso(job.timestamp) ?? '' };
  if (status === 'completed' && scores) view.result = rankResult(scores, job.returnvalue, topK);
  if (status === 'failed') {
    const error = failureOf(job.failedReason);
    view.error = { code: error.code, message: error.message };
  }
  if (status === 'completed' || status === 'failed') view.finished_at = iso(job.finishedOn);
  return view;
}

export interface FoundJob {
  job: Job<RerankJobData, RerankJobResult>;
  state: JobState | 'unknown';
}

/**
 * The job and its state, or undefined when there is no such job (never created, or past its retention). The job
 * first: for an id with no job (every new request) that is one cheap read, where getJobState would scan the
 * waiting list (LPOS: O(queue depth) per lookup, quadratic under a burst). A job that finished between the two
 * reads is read again, so a finished job always carries its result or failure reason.
 */
export async function lookupJob(queue: RerankQueue, jobId: string): Promise<FoundJob | undefined> {
  let job = await queue.getJob(jobId);
  if (!job) return undefined;
  const state = await queue.getJobState(jobId);
  if (state === 'unknown') return undefined;
  const finishedUnseen = (state === 'completed' && job.returnvalue == null) || (state === 'failed' && !job.failedReason);
  if (finishedUnseen) job = (await queue.getJob(jobId)) ?? job;
  return { job, state };
}

/** A completed job's scores; undefined once its result key has expired (the job is then as good as gone). */
export function completedScores(deps: JobsDeps, jobId: string): Promise<number[] | undefined> {
  return deps.withRedis(() => readScores(deps.redis, deps.prefix, jobId));
}

/**
 * The scores of a job that has just completed: from its result when small enough to travel in it (no round trip),
 * else from its result key.
 */
export function scoresOfResult(deps: JobsDeps, jobId: string, result: RerankJobResult): Promise<number[] | undefined> {
  if (result.inlineScores !== undefined) return Promise.resolve(decodeInlineScores(result.inlineScores));
  return completedScores(deps, jobId);
}

/** The job in whichever served model's queue holds it (the default's first: most jobs are there). */
export async function findJob(deps: Pick<JobsDeps, 'queue' | 'queues'>, jobId: string): Promise<FoundJob | undefined> {
  for (const queue of deps.queues ?? [deps.queue]) {
    const found = await lookupJob(queue, jobId);
    if (found) return found;
  }
  return undefined;
}

export async function findJobStatus(deps: JobsDeps, jobId: string, topK?: number): Promise<JobStatus | undefined> {
  const found = await deps.withRedis(() => findJob(deps, jobId));
  if (!found) return undefined;
  if (found.state !== 'completed') return jobStatus(found.job, found.state, topK);
  const scores = await completedScores(deps, jobId);
  return scores && jobStatus(found.job, found.state, topK, scores);
}
