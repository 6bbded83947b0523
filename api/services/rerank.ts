/**
 * POST /rerank: one job per distinct request (see job-id.ts), waited for through the shared JobWaiter.
 * The wait is registered before the job is looked at or added, so a completion in between is never missed.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { jobDisplayName } from '../../shared/job-name.ts';
import { keyPrefix, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import { resultKey } from '../../shared/results.ts';
import {
  documentText,
  type JobAccepted,
  type JobStatusValue,
  type RerankRequest,
  type RerankResponse,
} from '../../shared/schemas/rerank.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import { jobIdFor } from './job-id.ts';
import type { JobWaiter, WaitOutcome } from './job-waiter.ts';
import { completedScores, failureOf, lookupJob, statusOf, type JobsDeps } from './jobs.ts';
import { chunkSettings } from './long-documents.ts';
import { rankResult } from './rankings.ts';

export interface RerankDeps extends JobsDeps {
  config: Config;
  waiter: JobWaiter;
  /** The served model the job is for (`queue` is its queue): its name and max length go into the job's id. */
  model: JobModel;
}

export type JobModel = Pick<RerankJobData, 'model' | 'maxLength'>;

/**
 * The deps every route that calls rerank() needs, from the app's shared resources: the default model's, until
 * served-models.ts depsForModel picks the model a request names.
 */
export function rerankDeps(app: FastifyInstance, config: Config): RerankDeps {
  const { rerankQueue: queue, redis, jobWaiter: waiter, withRedis } = app;
  const model = { model: app.servedModels.defaultName, maxLength: config.MAX_SEQ_LENGTH };
  return { config, queue, redis, prefix: keyPrefix(config), waiter, withRedis, model };
}


/** How long a wait that timed out may still spend looking the job up before answering 202. */
const LOOKUP_AFTER_TIMEOUT_MS = 200;
const TOO_LATE = Symbol('too late');

/** The promise's value, or TOO_LATE when it takes longer than `ms` (it carries on; its result is dropped). */
async function settleWithin<T>(ms: number, promise: Promise<T>): Promise<T | typeof TOO_LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TOO_LATE>((resolve) => {
    timer = setTimeout(() => resolve(TOO_LATE), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * jobId and the job's stage timings (once it has run) travel along for the response headers and the log; tokens
 * (what the worker tokenized, when its result says) for the compatibility routes' usage.
 */
export type RerankOutcome = (
  | { kind: 'done'; body: RerankResponse; tokens?: number }
  | { kind: 'accepted'; body: JobAccepted }
) & {
  jobId: string;
  timings?: RerankJobResult['timings'];
};

export function toJobData(request: RerankRequest, config: Config, model: JobModel): RerankJobData {
  return {
    query: request.query,
    documents: request.documents.map(documentText),
    raw: request.raw_scores ?? false,
    ...model,
    ...chunkSettings(request, config),
  };
}

/** top_k rides along in the status URL so polling returns the ranking this request asked for. */
export function statusUrl(jobId: string, topK?: number): string {
  return topK === undefined ? `/jobs/${jobId}` : `/jobs/${jobId}?top_k=${topK}`;
}

export async function rerank(deps: RerankDeps, request: RerankRequest, waitMs: number): Promise<RerankOutcome> {
  const data = toJobData(request, deps.config, deps.model);
  const jobId = jobIdFor(data);
  const accepted = (status: JobStatusValue, result?: RerankJobResult): RerankOutcome => ({
    kind: 'accepted',
    body: { job_id: jobId, status, status_url: statusUrl(jobId, request.top_k) },
    jobId,
    timings: result?.timings,
  });
  const done = (result: RerankJobResult, scores: readonly number[]): RerankOutcome => ({
    kind: 'done',
    body: rankResult(scores, result, request.top_k),
    tokens: result.tokens,
    jobId,
    timings: result.timings,
  });
  if (waitMs === 0) {
    const finished = await deps.withRedis(() => ensureJob(deps, jobId, data));
    return finished?.status === 'completed' ? accepted('completed', finished.result) : accepted('queued');
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
      return done(outcome.result, scores);
    }
    case 'failed':
      throw failureOf(outcome.failedReason);
    case 'unavailable':
      throw new ServiceError('REDIS_UNAVAILABLE');
    case 'timeout': {
      // It may have finished just now; otherwise say where it is. Bounded: under a burst this lookup queues
      // behind every other request's Redis commands, and the 202 is due now; without an answer, say 'queued'.
      const found = await settleWithin(LOOKUP_AFTER_TIMEOUT_MS, deps.withRedis(() => lookupJob(deps.queue, jobId)));
      if (found === TOO_LATE) return accepted('queued');
      const scores = found?.state === 'completed' ? await completedScores(deps, jobId) : undefined;
      if (found && scores) return done(found.job.returnvalue, scores);
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
    // A failure is not served forever, and a completed job whose result has expired is as good as gone: drop it
    // and run the request again. Should an identical request race us here, it removes our fresh job at worst (or fails to, while a worker holds it) and adds the same one again;
    // waits are keyed by job id, so every waiter still hears of the one that completes. Redis trouble shows up in
    // the add below.
    await found.job.remove().catch(() => undefined);
  } else if (found) {
    return undefined; // queued or active: join it
  }
  await refuseWhenFull(deps);
  // A concurrent identical request may add it first: BullMQ then keeps the existing job, which is what we want.
  countAdded(queue);
  // The name is for people on the dashboard; nothing dispatches on it.
  await queue.add(jobDisplayName(data.query, data.documents.length), data, { jobId });
  return undefined;
}

/**
 * The queue's depth, read at most every DEPTH_MAX_AGE_MS and shared by the requests in between (each add counts
 * itself in): under a burst one count per interval instead of one Redis script per request, so the commands that
 * add jobs wait behind fewer others.
 */
const DEPTH_MAX_AGE_MS = 100;
const depthReads = new WeakMap<RerankQueue, { at: number; depth: Promise<number> }>();

function queueDepth(queue: RerankQueue): Promise<number> {
  const cached = depthReads.get(queue);
  if (cached && performance.now() - cached.at < DEPTH_MAX_AGE_MS) return cached.depth;
  const depth = queue
    .getJobCounts('waiting', 'prioritized')
    .then((counts) => (counts.waiting ?? 0) + (counts.prioritized ?? 0));
  const read = { at: performance.now(), depth };
  depthReads.set(queue, read);
  // A failed read is not shared: the next request reads again.
  read.depth.catch(() => depthReads.get(queue) === read && depthReads.delete(queue));
  return read.depth;
}

function countAdded(queue: RerankQueue): void {
  const cached = depthReads.get(queue);
  if (!cached) return;
  const next = cached.depth.then((depth) => depth + 1);
  next.catch(() => undefined); // a failed read is reported to the requests that await it, never unhandled
  cached.depth = next;
}

async function refuseWhenFull(deps: RerankDeps): Promise<void> {
  const depth = await queueDepth(deps.queue);
  if (depth >= deps.config.MAX_QUEUE_DEPTH) {
    throw new ServiceError('QUEUE_FULL', undefined, { depth, limit: deps.config.MAX_QUEUE_DEPTH });
  }
}
