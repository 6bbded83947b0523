/**
 * POST /jobs: a random unguessable id, the job's record, then its chunks in the bulk queue (a few at a time, so
 * the API never holds two copies of a large job's documents at once). Idempotency-Key maps to the first job made
 * with it for as long as completed jobs are retained; the same key with another body is a 409.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { keyPrefix, type RedisClient } from '../../../shared/queue.ts';
import type { Config } from '../../../shared/config.ts';
import { ServiceError } from '../../../shared/errors.ts';
import { createBulkRecord, deleteBulkJob, endBulkJob, readBulkRecord } from '../../../shared/bulk/store.ts';
import type { BulkChunkData } from '../../../shared/queue.ts';
import { defaultModelOf } from '../../../shared/served-models.ts';
import type { BulkAccepted, BulkBody } from '../../../shared/schemas/bulk.ts';
import { checkCallbackUrl } from '../callback-url.ts';
import { planBulk, type BulkPlan } from './plan.ts';

export interface BulkDeps {
  config: Config;
  redis: RedisClient;
  prefix: string;
  queue: Queue;
  withRedis<T>(operation: () => Promise<T>): Promise<T>;
}

/** What bulk jobs need, built from the app's plugins: one place for every route that reads or makes them. */
export function bulkDeps(app: FastifyInstance, config: Config): BulkDeps {
  return { config, redis: app.redis, prefix: keyPrefix(config), queue: app.bulkQueue, withRedis: app.withRedis };
}

/** Chunks per addBulk call: bounds the serialised copies of documents held at once. */
const CHUNKS_PER_ADD = 8;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export const newBulkId = () => `bj-${randomBytes(16).toString('hex')}`;
export const bulkStatusUrl = (id: string) => `/jobs/${id}`;
/** Per owner: the same Idempotency-Key from two API keys names two jobs. */
const idempotencyKey = (prefix: string, owner: string, key: string) =>
  `${prefix}:bulk-idem:${createHash('sha256').update(JSON.stringify([owner, key])).digest('hex')}`;

export function checkIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) throw new ServiceError('INVALID_IDEMPOTENCY_KEY');
  return header;
}

/** `owner` (api/auth/owner.ts): the only one who sees the job; Idempotency-Keys are per owner. */
export async function submitBulk(
  deps: BulkDeps,
  body: BulkBody,
  key: string | undefined,
  owner: string,
): Promise<BulkAccepted> {
  // Refused (400) before anything is stored; the job keeps the URL as it will be called.
  const callbackUrl = body.callback_url === undefined ? undefined : checkCallbackUrl(body.callback_url, deps.config);
  const limits = { chunkSize: deps.config.BULK_CHUNK_DOCUMENTS, maxDocumentChars: deps.config.MAX_BODY_BYTES };
  const plan = planBulk({ ...body, callback_url: callbackUrl }, limits);
  const id = newBulkId();
  return deps.withRedis(async () => {
    // The record first, then the key: a concurrent request with the same key that loses the claim always finds the
    // winner's record (it would otherwise read the key's job as deleted, take the key over and make a second job).
    await createBulkRecord(deps.redis, deps.prefix, { id, ...plan, chunks: plan.chunks.length, owner });
    if (key !== undefined) {
      const earlier = await claimOrDiscard(deps, idempotencyKey(deps.prefix, owner, key), id, plan.contentHash);
      if (earlier) return earlier;
    }
    try {
      await addChunks(deps, id, plan);
    } catch (error) {
      // Half a job would never finish: end it, so that polling says so.
      const ttlSeconds = deps.config.RETAIN_FAILED_SECONDS;
      const failure = { code: 'REDIS_UNAVAILABLE', message: 'The job could not be queued.' };
      await endBulkJob(deps.redis, deps.prefix, { id, status: 'failed', error: failure, ttlSeconds }).catch(() => undefined);
      throw error;
    }
    return { job_id: id, status: 'queued', status_url: bulkStatusUrl(id) };
  });
}

/** claimKey for a job whose record exists: when the key names another job, or another body (409), the record goes. */
async function claimOrDiscard(
  deps: BulkDeps,
  redisKey: string,
  id: string,
  contentHash: string,
): Promise<BulkAccepted | undefined> {
  try {
    const earlier = await claimKey(deps, redisKey, id, contentHash);
    if (earlier) await deleteBulkJob(deps.redis, deps.prefix, id);
    return earlier;
  } catch (error) {
    await deleteBulkJob(deps.redis, deps.prefix, id);
    throw error;
  }
}

/** Claims the key for this job; returns the earlier job made with it (same body), or throws (another body). */
async function claimKey(deps: BulkDeps, redisKey: string, id: string, contentHash: string): Promise<BulkAccepted | undefined> {
  const value = `${id} ${contentHash}`;
  const ttl = deps.config.RETAIN_COMPLETED_SECONDS;
  if ((await deps.redis.set(redisKey, value, 'EX', ttl, 'NX')) === 'OK') return undefined;
  const [earlierId = '', earlierHash] = (await deps.redis.get(redisKey))?.split(' ') ?? [];
  if (earlierHash !== contentHash) throw new ServiceError('IDEMPOTENCY_KEY_REUSED');
  const record = await readBulkRecord(deps.redis, deps.prefix, earlierId);
  if (record) return { job_id: earlierId, status: record.status, status_url: bulkStatusUrl(earlierId) };
  // The earlier job was deleted (DELETE /jobs/:id) or expired: the key now names this one.
  await deps.redis.set(redisKey, value, 'EX', ttl);
  return undefined;
}

async function addChunks(deps: BulkDeps, id: string, plan: BulkPlan): Promise<void> {
  const base = { bulkId: id, raw: plan.raw, model: defaultModelOf(deps.config), maxLength: deps.config.MAX_SEQ_LENGTH };
  // A stored chunk's scores are in the job's scores key: the chunk job itself is of no further use.
  const opts = { removeOnComplete: true };
  for (let start = 0; start < plan.chunks.length; start += CHUNKS_PER_ADD) {
    const jobs = plan.chunks.slice(start, start + CHUNKS_PER_ADD).map((segments, k) => {
      const data: BulkChunkData = { ...base, chunk: start + k, segments };
      return { name: plan.name, data, opts: { ...opts, jobId: `${id}-${start + k}` } };
    });
    await deps.queue.addBulk(jobs);
  }
}
