/**
 * A bulk job's state in Redis, shared by the API (create, read, cancel, delete) and the worker (start, store a
 * chunk, complete, fail). Every key is under the queue prefix (one Cluster slot). Transitions are Lua scripts, so
 * a chunk finishing as the job is cancelled can never write scores into a cancelled job, and a chunk retried after
 * a crash is counted once.
 *
 *   {p}:bulk:<id>          hash: status, counts, timestamps, per-worker chunk counts (w:<workerId>), callback_url
 *   {p}:bulk:<id>:scores   Float64 per pair, written in place by each chunk (SETRANGE); gone once merged
 *   {p}:bulk:<id>:done     set of finished chunk numbers; gone once merged
 *   {p}:bulk:<id>:ranked   the merged ranking, 12 bytes per entry (ranking.ts)
 */
import type { RedisClient } from '../queue.ts';
import type { BulkStatusValues } from '../schemas/bulk.ts';
import { ENTRY_BYTES } from './ranking.ts';

export type BulkStatus = (typeof BulkStatusValues)[number];
export type BulkForm = 'query' | 'requests';

/** One rerank of a form-2 job: where its pairs start, and (once merged) where its ranking starts. */
export interface BulkRequestMeta {
  id?: string;
  offset: number;
  count: number;
  top_k?: number;
  ranked?: number;
  kept?: number;
}

export interface BulkRecord {
  id: string;
  form: BulkForm;
  status: BulkStatus;
  name: string;
  total: number;
  done: number;
  chunks: number;
  raw: boolean;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  topK?: number;
  /** Entries of the merged ranking (form 1). */
  kept?: number;
  requests?: BulkRequestMeta[];
  error?: { code: string; message: string };
  /** Chunks each worker stored. */
  workers: Record<string, number>;
  /** Where to POST the job's end (checked against WEBHOOK_ALLOWED_HOSTS at submit); see ./notify.ts. */
  callbackUrl?: string;
  /** Who submitted it (api/auth/owner.ts); absent on records written before owners were recorded. */
  owner?: string;
}

/** An unfinished job's keys expire after a week: nothing is left behind by a job no worker ever finishes. */
export const RUNNING_TTL_SECONDS = 7 * 86_400;

export const bulkKeys = (prefix: string, id: string) => {
  const record = `${prefix}:bulk:${id}`;
  return { record, scores: `${record}:scores`, done: `${record}:done`, ranked: `${record}:ranked` };
};

const START = `
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'queued' then redis.call('HSET', KEYS[1], 'status', 'active', 'started_at', ARGV[1]) return 'active' end
return s`;

const CHUNK_DONE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {-1, 0} end
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then
  redis.call('SETRANGE', KEYS[2], tonumber(ARGV[2]), ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'done', tonumber(ARGV[4]))
  redis.call('HINCRBY', KEYS[1], 'w:' .. ARGV[5], 1)
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
return {redis.call('SCARD', KEYS[3]), tonumber(redis.call('HGET', KEYS[1], 'chunks'))}`;

const COMPLETE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'completed', 'finished_at', ARGV[3], 'kept', ARGV[5])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'requests', ARGV[2]) end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`;

/** queued/active -> failed or cancelled; the scores written so far are dropped. Returns 1 when it moved. */
const END = `
local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'active' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2], 'error_code', ARGV[3], 'error_message', ARGV[4])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`;

export interface NewBulkRecord {
  id: string;
  form: BulkForm;
  name: string;
  total: number;
  chunks: number;
  raw: boolean;
  topK?: number;
  requests?: BulkRequestMeta[];
  callbackUrl?: string;
  owner: string;
}

export async function createBulkRecord(redis: RedisClient, prefix: string, job: NewBulkRecord): Promise<void> {
  const { record } = bulkKeys(prefix, job.id);
  const fields: Record<string, string> = {
    form: job.form,
    status: 'queued',
    name: job.name,
    total: String(job.total),
    done: '0',
    chunks: String(job.chunks),
    raw: job.raw ? '1' : '0',
    created_at: String(Date.now()),
    owner: job.owner,
  };
  if (job.topK !== undefined) fields.top_k = String(job.topK);
  if (job.requests) fields.requests = JSON.stringify(job.requests);
  if (job.callbackUrl !== undefined) fields.callback_url = job.callbackUrl;
  await redis.multi().hset(record, fields).expire(record, RUNNING_TTL_SECONDS).exec();
}

const num = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

export async function readBulkRecord(redis: RedisClient, prefix: string, id: string): Promise<BulkRecord | undefined> {
  const hash = await redis.hgetall(bulkKeys(prefix, id).record);
  if (!hash.status) return undefined;
  const workers: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) if (field.startsWith('w:')) workers[field.slice(2)] = Number(value);
  return {
    id,
    form: hash.form as BulkForm,
    status: hash.status as BulkStatus,
    name: hash.name ?? '',
    total: Number(hash.total),
    done: Number(hash.done),
    chunks: Number(hash.chunks),
    raw: hash.raw === '1',
    createdAt: Number(hash.created_at),
    startedAt: num(hash.started_at),
    finishedAt: num(hash.finished_at),
    topK: num(hash.top_k),
    kept: num(hash.kept),
    requests: hash.requests ? (JSON.parse(hash.requests) as BulkRequestMeta[]) : undefined,
    error: hash.error_code ? { code: hash.error_code, message: hash.error_message ?? '' } : undefined,
    workers,
    callbackUrl: hash.callback_url,
    owner: hash.owner,
  };
}

/** Marks the job active when a first chunk starts; returns the status the chunk should act on. */
export async function startBulkChunk(redis: RedisClient, prefix: string, id: string): Promise<BulkStatus | undefined> {
  const status = await redis.eval(START, 1, bulkKeys(prefix, id).record, String(Date.now()));
  return (status ?? undefined) as BulkStatus | undefined;
}

/** Stores one chunk's scores; returns how many chunks are done (-1: the job is no longer running) and of how many. */
export async function storeBulkChunk(
  redis: RedisClient,
  prefix: string,
  store: { id: string; chunk: number; offset: number; scores: Buffer; pairs: number; workerId: string },
): Promise<{ done: number; chunks: number }> {
  const keys = bulkKeys(prefix, store.id);
  const [done, chunks] = (await redis.eval(
    CHUNK_DONE,
    3,
    keys.record,
    keys.scores,
    keys.done,
    String(store.chunk),
    String(store.offset * 8),
    store.scores,
    String(store.pairs),
    store.workerId,
    String(RUNNING_TTL_SECONDS),
  )) as [number, number];
  return { done, chunks };
}

export async function readBulkScores(redis: RedisClient, prefix: string, id: string): Promise<Buffer | null> {
  return redis.getBuffer(bulkKeys(prefix, id).scores);
}

/** Stores the merged ranking and marks the job completed (unless it was cancelled meanwhile). */
export async function completeBulkJob(
  redis: RedisClient,
  prefix: string,
  done: { id: string; ranked: Buffer; kept: number; requests?: BulkRequestMeta[]; ttlSeconds: number },
): Promise<boolean> {
  const keys = bulkKeys(prefix, done.id);
  const moved = await redis.eval(
    COMPLETE,
    4,
    keys.record,
    keys.ranked,
    keys.scores,
    keys.done,
    done.ranked,
    done.requests ? JSON.stringify(done.requests) : '',
    String(Date.now()),
    String(done.ttlSeconds),
    String(done.kept),
  );
  return moved === 1;
}

/** queued/active -> failed (with the error) or cancelled; false when it had ended already. */
export async function endBulkJob(
  redis: RedisClient,
  prefix: string,
  end: { id: string; status: 'failed' | 'cancelled'; error?: { code: string; message: string }; ttlSeconds: number },
): Promise<boolean> {
  const keys = bulkKeys(prefix, end.id);
  const moved = await redis.eval(
    END,
    3,
    keys.record,
    keys.scores,
    keys.done,
    end.status,
    String(Date.now()),
    end.error?.code ?? '',
    end.error?.message ?? '',
    String(end.ttlSeconds),
  );
  return moved === 1;
}

/** One page of the merged ranking: entries [from, to). */
export async function readRankedEntries(redis: RedisClient, prefix: string, id: string, from: number, to: number) {
  if (to <= from) return Buffer.alloc(0);
  return redis.getrangeBuffer(bulkKeys(prefix, id).ranked, from * ENTRY_BYTES, to * ENTRY_BYTES - 1);
}

export async function deleteBulkJob(redis: RedisClient, prefix: string, id: string): Promise<void> {
  const keys = bulkKeys(prefix, id);
  await redis.del(keys.record, keys.scores, keys.done, keys.ranked);
}

/** Channel on which the API tells every worker that a bulk job was cancelled (the message is its id). */
export const cancelChannel = (prefix: string) => `${prefix}:bulk-cancel`;
