/**
 * A large /rerank job keeps its documents in a Redis list beside the job, not in the job's data. BullMQ moves a
 * job's data as one string: a 16 MB body was one 16 MB command on the API (its serialisation held the event loop
 * ~290 ms) and, on the worker, a 16 MB script reply copied three or four times over (reply buffer, string, parsed
 * array) for every job fetched. A list is written and read in slices of a quarter megabyte, each its own round
 * trip, so neither process ever holds more than a slice of it in transit. Small jobs keep their documents inline
 * (one round trip less), and so do jobs added by hand (tests, tools): the worker reads both forms.
 */
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient, RerankJobData } from './queue.ts';

/** Jobs with more document text than this (UTF-16 units) keep their documents in a list. */
export const INLINE_DOCUMENTS_MAX_CHARS = 1 << 20;
/** About this much text per RPUSH or LRANGE: a 1 MB command held the API's event loop ~35 ms. */
const SLICE_CHARS = 1 << 18;
/**
 * A list is written before its job is added: should the API die in between, nothing refers to it and it expires
 * after this. Once the job exists the expiry is lifted; the worker deletes the list when the job has finished.
 */
const ORPHAN_TTL_SECONDS = 3_600;
/**
 * Once a worker reads a list, it expires a day later at the latest: should the worker die between the job's end
 * and the list's deletion, nothing else would delete it. A retry (after a crash or a backoff) comes long before.
 */
const READ_TTL_SECONDS = 86_400;

/** Where a job's documents are when they are not in its data (which then has no `documents` field). */
export interface DocumentsList {
  key: string;
  count: number;
  /** Total characters, for the worker's bound on text held (worker/held-documents.ts) before it reads them. */
  chars: number;
}

/** Documents in `data.documentsList` or inline, as the worker meets them; undefined when they are neither. */
export function documentsListOf(data: unknown): DocumentsList | undefined {
  const list = (data as { documentsList?: unknown } | null)?.documentsList;
  if (typeof list !== 'object' || list === null) return undefined;
  const { key, count, chars } = list as Record<string, unknown>;
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof key !== 'string' || !isCount(count) || !isCount(chars)) return undefined;
  return { key, count: count as number, chars: chars as number };
}

/** The document arrays job data carries inline: a /rerank job's documents, or a bulk chunk's segments'. */
function inlineArrays(data: unknown): unknown[][] {
  const { documents, segments } = (data ?? {}) as { documents?: unknown; segments?: unknown };
  if (!Array.isArray(segments)) return Array.isArray(documents) ? [documents] : [];
  return segments.map((segment) => (segment as { documents?: unknown } | null)?.documents).filter(Array.isArray);
}

/** Number of documents of job data in any form (a list, inline, a bulk chunk); 0 when it has none. */
export function documentCountOf(data: unknown): number {
  return documentsListOf(data)?.count ?? inlineArrays(data).reduce((sum, documents) => sum + documents.length, 0);
}

/**
 * Characters of the documents of job data in any form. A list's are not in memory when the job becomes active,
 * but will be for its whole run (worker/held-documents.ts counts them from then).
 */
export function documentCharsOf(data: unknown): number {
  return documentsListOf(data)?.chars ?? inlineArrays(data).reduce((sum, documents) => sum + textChars(documents), 0);
}

/** Characters of the strings among `documents` (job data read back from Redis may hold anything); 0 for a non-array. */
export function textChars(documents: unknown): number {
  if (!Array.isArray(documents)) return 0;
  let chars = 0;
  for (const document of documents) if (typeof document === 'string') chars += document.length;
  return chars;
}

/** Consecutive slices of about SLICE_CHARS characters each (at least one document each). */
function* slices(documents: readonly string[]): Generator<string[]> {
  let start = 0;
  while (start < documents.length) {
    let end = start;
    for (let chars = 0; end < documents.length && (end === start || chars < SLICE_CHARS); end += 1) {
      chars += documents[end]!.length;
    }
    yield documents.slice(start, end);
    start = end;
  }
}

async function writeList(redis: RedisClient, key: string, documents: readonly string[]): Promise<void> {
  let first = true;
  for (const slice of slices(documents)) {
    // One slice per round trip: the event loop runs between them.
    if (first) await redis.multi().rpush(key, ...slice).expire(key, ORPHAN_TTL_SECONDS).exec();
    else await redis.rpush(key, ...slice);
    first = false;
  }
}

/**
 * Adds a rerank job (BullMQ keeps an existing job of that id instead). Documents of more than
 * INLINE_DOCUMENTS_MAX_CHARS go to a list of their own first; when the id turns out to be taken (an identical
 * request added its job meanwhile), that list is dropped again.
 */
export async function addRerankJob(
  queue: Queue,
  redis: RedisClient,
  name: string,
  data: RerankJobData,
  jobId: string,
): Promise<void> {
  const chars = textChars(data.documents);
  if (chars <= INLINE_DOCUMENTS_MAX_CHARS) {
    await queue.add(name, data, { jobId });
    return;
  }
  // A key of its own per add (the job id only helps people reading Redis): a list being written is never one
  // that an earlier job of the same id is still reading or deleting.
  const key = `${queue.toKey('docs')}:${jobId}:${randomUUID()}`;
  const list: DocumentsList = { key, count: data.documents.length, chars };
  try {
    await writeList(redis, list.key, data.documents);
  } catch (error) {
    await redis.del(list.key).catch(() => undefined); // else it expires
    throw error;
  }
  // From here on an error leaves the list to its expiry: the add may have landed even when its answer was lost.
  // No `documents` field at all: a worker older than lists would score an empty array and complete with no
  // rankings; without the field it fails the job INVALID_JOB_DATA instead (a rolling upgrade: workers first).
  const { documents: _inList, ...rest } = data;
  await queue.add(name, { ...rest, documentsList: list }, { jobId });
  const added = await queue.getJob(jobId);
  if (documentsListOf(added?.data)?.key === list.key) await redis.persist(list.key);
  else await redis.del(list.key);
}

/** The list's documents, or undefined when it is gone or incomplete (deleted, or expired as an orphan). */
export async function readDocumentsList(redis: RedisClient, list: DocumentsList): Promise<string[] | undefined> {
  if (!(await redis.expire(list.key, READ_TTL_SECONDS))) return undefined;
  const documents: string[] = [];
  // Slices of about SLICE_CHARS characters, from the list's average document length.
  const perSlice = Math.max(1, Math.floor((SLICE_CHARS * list.count) / Math.max(1, list.chars)));
  for (let start = 0; start < list.count; start += perSlice) {
    const slice = await redis.lrange(list.key, start, Math.min(start + perSlice, list.count) - 1);
    for (const document of slice) documents.push(document);
    if (slice.length === 0) break;
  }
  return documents.length === list.count ? documents : undefined;
}

export async function deleteDocumentsList(redis: RedisClient, data: unknown): Promise<void> {
  const list = documentsListOf(data);
  if (list) await redis.del(list.key);
}
