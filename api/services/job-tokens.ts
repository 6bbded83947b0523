/**
 * The status URL of a 202 from POST /rerank: a per-request token, never the job's content-hash id. The token maps
 * (in Redis, one hash per token) to the job, its owner and the request's top_k, so identical requests of one owner
 * share a job while each client holds its own unguessable handle to it.
 *
 *   {p}:job-token:<token>   hash: job (the rr- id), owner (api/auth/owner.ts), top_k (when the request had one)
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import type { RedisClient } from '../../shared/queue.ts';

/** "rq-" and 128 random bits (JOB_ID_PATTERN): not guessable, and unrelated to the request's content. */
export const newJobToken = () => `rq-${randomBytes(16).toString('hex')}`;

export interface JobTokensDeps {
  config: Pick<Config, 'RETAIN_COMPLETED_SECONDS' | 'RETAIN_FAILED_SECONDS'>;
  redis: RedisClient;
  prefix: string;
  withRedis<T>(operation: () => Promise<T>): Promise<T>;
}

export interface TokenTarget {
  /** The internal content-hash job id (api/services/job-id.ts). */
  jobId: string;
  owner: string;
  topK?: number;
}

const tokenKey = (prefix: string, token: string) => `${prefix}:job-token:${token}`;

/**
 * A token outlives the longest a job is retained, plus an hour for the time it may spend queued or running before
 * that retention starts. Past the job's retention it answers 404 like any unknown id.
 */
const QUEUED_GRACE_SECONDS = 3_600;
export const tokenTtlSeconds = (config: JobTokensDeps['config']) =>
  Math.max(config.RETAIN_COMPLETED_SECONDS, config.RETAIN_FAILED_SECONDS) + QUEUED_GRACE_SECONDS;

export async function createJobToken(deps: JobTokensDeps, target: TokenTarget): Promise<string> {
  const token = newJobToken();
  const fields: Record<string, string> = { job: target.jobId, owner: target.owner };
  if (target.topK !== undefined) fields.top_k = String(target.topK);
  const key = tokenKey(deps.prefix, token);
  await deps.withRedis(() => deps.redis.multi().hset(key, fields).expire(key, tokenTtlSeconds(deps.config)).exec());
  return token;
}

/**
 * The job behind a token, for its owner only. Another key's token is a 404 like an unknown one (not a 403): the
 * answer must not tell whether the token exists.
 */
export async function resolveJobToken(
  deps: Omit<JobTokensDeps, 'config'>,
  token: string,
  owner: string,
): Promise<TokenTarget> {
  const hash = await deps.withRedis(() => deps.redis.hgetall(tokenKey(deps.prefix, token)));
  if (!hash.job || hash.owner !== owner) throw new ServiceError('JOB_NOT_FOUND');
  return { jobId: hash.job, owner, topK: hash.top_k === undefined ? undefined : Number(hash.top_k) };
}
