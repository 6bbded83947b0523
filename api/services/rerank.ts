/**
 * POST /rerank: one job per distinct request (see job-id.ts), waited for through the shared JobWaiter.
 * The wait is registered before the job is looked at or added, so a completion in between is never missed.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { jobDisplayName } from '../../shared/job-name.ts';
import { keyPrefix, type RerankJobData } from '../../shared/queue.ts';
import type { JobAccepted, JobStatusValue, RerankRequest, RerankResponse } from '../../shared/schemas/rerank.ts';
import { jobIdFor } from './job-id.ts';
import type { JobWaiter, WaitOutcome } from './job-waiter.ts';
import { completedScores, failureOf, lookupJob, statusOf, type JobsDeps } from './jobs.ts';
import { resultKey } from '../../shared/results.ts';
import { rankScores } from './rankings.ts';

export interface RerankDeps extends JobsDeps {
  config: Config;
  waiter: JobWaiter;
}

/** The deps every route that calls rerank() needs, from the app's shared resources. */
export function rerankDeps(app: FastifyInstance, config: Config): RerankDeps {
  const { rerankQueue: queue, redis, jobWaiter: waiter, withRedis } = app;
  return { config, queue, redis, prefix: keyPrefix(config), waiter, withRedis };
}

export type RerankOutcome = { kind: 'done'; body: RerankResponse } | { kind: 'accepted'; body: JobAccepted };

export function toJobData(request: RerankRequest, config: Config): RerankJobData {
  return {
    query: request.query,
    documents: request.documents.map((document) => (typeof document === 'string' ? document : document.text)),
    raw: request.raw_scores ?? false,
    model: config.MODEL_NAME,
    maxLength: config.MAX_SEQ_LENGTH,
  };
}

/** top_k rides along in the status URL so polling returns the ranking this request asked for. */
export function statusUrl(jobId: string, topK?: number): string {
  return topK === undefined ? `/jobs/${jobId}` : `/jobs/${jobId}?top_k=${topK}`;
}

export async function rerank(deps: RerankDeps, request: RerankRequest, waitMs: number): Promise<RerankOutcome> {
  const data = toJobData(request, deps.config);
  const jobId = jobIdFor(data);
  const accepted = (status: JobStatusValue): RerankOutcome => ({
    kind: 'accepted',
    body: { job_id: jobId, status, status_url: statusUrl(jobId, request.top_k) },
  });
  if (waitMs === 0) {
    const finished = await deps.withRedis(() => ensureJob(deps, jobId, data));
    return accepted(finished ? 'completed' : 'queued');
  }

  const wait = deps.waiter.wait(jobId, waitMs);
  try {
    const finished = await deps.withRedis(() => ensureJob(deps, jobId, data));
    if (finished) deps.waiter.settle(jobId, finished);
  } catch (error) {
    wait.cancel();
    throw error;
  }
  const outcome = await wait.promise;
  switch (outcome.status) {
    case 'completed': {
      // The event carries no scores (they would bloat the events stream): they are in the job's result key.
      const scores = await completedScores(deps, jobId);
      if (!scores) throw new ServiceError('JOB_NOT_FOUND', 'The result expired before it could be read.');
      return { kind: 'done', body: rankScores(scores, request.top_k) };
    }
    case 'failed':
      throw failureOf(outcome.failedReason);
    case 'unavailable':
      throw new ServiceError('REDIS_UNAVAILABLE');
    case 'timeout': {
      // It may have finished just now; otherwise say where it is.
      const found = await deps.withRedis(() => lookupJob(deps.queue, jobId));
      const scores = found?.state === 'completed' ? await completedScores(deps, jobId) : undefined;
      if (scores) return { kind: 'done', body: rankScores(scores, request.top_k) };
      if (found?.state === 'failed') throw failureOf(found.job.failedReason);
      return accepted(found ? statusOf(found.state) : 'queued');
    }
  }
}

/**
 * Makes sure a job with this id will produce a result: reuses a retained completed job (returning its outcome),
 * joins a queued or active one, and adds a new one when there is none or the last one failed.
 */
async function ensureJob(deps: RerankDeps, jobId: string, data: RerankJobData): Promise<WaitOutcome | undefined> {
  const { queue } = deps;
  const found = await lookupJob(queue, jobId);
  const hasResult = found?.state === 'completed' && (await deps.redis.exists(resultKey(deps.prefix, jobId))) === 1;
  if (found && hasResult) return { status: 'completed', result: found.job.returnvalue };
  if (found?.state === 'failed' || found?.state === 'completed') {
    // A failure is not served forever, and a completed job whose result has expired is as good as gone: drop it and run the request again. Should an identical request race us
    // here, it removes our fresh job at worst (or fails to, while a worker holds it) and adds the same one again;
    // waits are keyed by job id, so every waiter still hears of the one that completes. Redis trouble shows up in
    // the add below.
    await found.job.remove().catch(() => undefined);
  } else if (found) {
    return undefined; // queued or active: join it
  }
  await refuseWhenFull(deps);
  // A concurrent identical request may add it first: BullMQ then keeps the existing job, which is what we want.
  // The name is for people on the dashboard; nothing dispatches on it.
  await queue.add(jobDisplayName(data.query, data.documents.length), data, { jobId });
  return undefined;
}

async function refuseWhenFull(deps: RerankDeps): Promise<void> {
  const counts = await deps.queue.getJobCounts('waiting', 'prioritized');
  const depth = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
  if (depth >= deps.config.MAX_QUEUE_DEPTH) {
    throw new ServiceError('QUEUE_FULL', undefined, { depth, limit: deps.config.MAX_QUEUE_DEPTH });
  }
}
