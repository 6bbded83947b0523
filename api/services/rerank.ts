/**
 * POST /rerank: one job per distinct request (see job-id.ts), waited for through the shared JobWaiter.
 * The wait is registered before the job is looked at or added, so a completion in between is never missed.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { addRerankJob } from '../../shared/job-documents.ts';
import { jobDisplayName } from '../../shared/job-name.ts';
import { keyPrefix, type RerankJobData, type RerankJobResult } from '../../shared/queue.ts';
import {
  documentText,
  type JobStatusValue,
  type RerankRequest,
  type RerankResponse,
} from '../../shared/schemas/rerank.ts';
import type { RerankQueue } from '../plugins/queue.ts';
import { jobIdFor } from './job-id.ts';
import { snapshotJob } from './job-snapshot.ts';
import type { JobWaiter, WaitOutcome } from './job-waiter.ts';
import { completedScores, failureOf, lookupJob, scoresOfResult, statusOf, type JobsDeps } from './jobs.ts';
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
 * (what the worker tokenized, when its result says) for the compatibility routes' usage. An accepted job's id is
 * internal: the route hands out a token for it (job-tokens.ts), never the id.
 */
export type RerankOutcome = (
  | { kind: 'done'; body: RerankResponse; tokens?: number }
  | { kind: 'accepted'; status: JobStatusValue }
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

/** `owner` (api/auth/owner.ts): identical requests share a job only within one owner (job-id.ts). */
export async function rerank(
  deps: RerankDeps,
  request: RerankRequest,
  waitMs: number,
  owner: string,
): Promise<RerankOutcome> {
  const data = toJobData(request, deps.config, deps.model);
  const jobId = jobIdFor(data, owner);
  const accepted = (status: JobStatusValue, result?: RerankJobResult): RerankOutcome => ({
    kind: 'accepted',
    status,
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
      // A small job's scores came with the event; a large one's are in its result key (they would bloat the stream).
      const scores = await scoresOfResult(deps, jobId, outcome.result);
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
 * joins a queued or active one, and adds a new one when there is none or the last one failed. Two round trips
 * for a new job: one snapshot (job-snapshot.ts: state, stored scores and queue depth together), then the add.
 */
async function ensureJob(deps: RerankDeps, jobId: string, data: RerankJobData): Promise<WaitOutcome | undefined> {
  const { queue } = deps;
  const snapshot = await snapshotJob(deps, jobId);
  if (snapshot.state === 'reusable') return { status: 'completed', result: snapshot.result };
  if (snapshot.state === 'pending') return undefined; // queued or active: join it
  if (snapshot.state === 'stale') {
    // A failure is not served forever, and a completed job whose result has expired is as good as gone: drop it
    // and run the request again. Should an identical request race us here, it removes our fresh job at worst (or fails to, while a worker holds it) and adds the same one again;
    // waits are keyed by job id, so every waiter still hears of the one that completes. Redis trouble shows up in
    // the add below.
    await queue.remove(jobId).catch(() => undefined);
  }
  const depth = snapshot.depth + (addsInFlight.get(queue) ?? 0);
  if (depth >= deps.config.MAX_QUEUE_DEPTH) {
    throw new ServiceError('QUEUE_FULL', undefined, { depth, limit: deps.config.MAX_QUEUE_DEPTH });
  }
  // A concurrent identical request may add it first: BullMQ then keeps the existing job, which is what we want.
  // The name is for people on the dashboard; nothing dispatches on it.
  addsInFlight.set(queue, (addsInFlight.get(queue) ?? 0) + 1);
  try {
    await addRerankJob(queue, deps.redis, jobDisplayName(data.query, data.documents.length), data, jobId);
  } finally {
    addsInFlight.set(queue, (addsInFlight.get(queue) ?? 1) - 1);
  }
  return undefined;
}

/**
 * This process's adds sent but not yet answered, per queue. Under a burst many snapshots are read before any of
 * the adds behind them lands; counting those in keeps admission at MAX_QUEUE_DEPTH instead of overshooting it by
 * the burst's size (an add that has landed but not yet answered is counted twice: refusal errs on the safe side).
 */
const addsInFlight = new WeakMap<RerankQueue, number>();
