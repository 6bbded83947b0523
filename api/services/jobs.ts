/** GET /jobs/:id: a BullMQ job seen as the API's job status, with the same ranking a sync call returns. */
import type { Job, JobState } from 'bullmq';
import { ERRORS, ServiceError, exposesMessage } from '../../shared/errors.ts';
import { parseFailure, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import type { JobStatus, JobStatusValue } from '../../shared/schemas/rerank.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import { rankScores } from './rankings.ts';

export interface JobsDeps {
  queue: RerankQueue;
  withRedis<T>(operation: () => Promise<T>): Promise<T>;
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

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function jobStatus(
  job: Job<RerankJobData, RerankJobResult>,
  state: JobState | 'unknown',
  topK?: number,
): JobStatus {
  const status = statusOf(state);
  const view: JobStatus = { job_id: String(job.id), status, created_at: iso(job.timestamp) ?? '' };
  if (status === 'completed' && job.returnvalue) view.result = rankScores(job.returnvalue.scores, topK);
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
 * The job and its state, or undefined when there is no such job (never created, or past its retention). State
 * first: a job read after it was seen finished carries its result or failure reason; read the other way round,
 * a job finishing in between would look finished without either.
 */
export async function lookupJob(queue: RerankQueue, jobId: string): Promise<FoundJob | undefined> {
  const state = await queue.getJobState(jobId);
  if (state === 'unknown') return undefined;
  const job = await queue.getJob(jobId);
  return job && { job, state };
}

export async function findJobStatus(deps: JobsDeps, jobId: string, topK?: number): Promise<JobStatus | undefined> {
  const found = await deps.withRedis(() => lookupJob(deps.queue, jobId));
  return found && jobStatus(found.job, found.state, topK);
}
