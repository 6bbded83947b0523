/**
 * GET /jobs/:id of a bulk job and its result pages. Form 1 pages through the merged ranking (limit = entries),
 * form 2 through the requests (limit = requests, each with its whole ranking). A page is one GETRANGE.
 */
import { ServiceError } from '../../../shared/errors.ts';
import { OPEN_OWNER } from '../../auth/owner.ts';
import { decodeEntries } from '../../../shared/bulk/ranking.ts';
import { readBulkRecord, readRankedEntries, type BulkRecord } from '../../../shared/bulk/store.ts';
import type { BulkJobStatus, RankingPage, RequestsPage, ResultPage } from '../../../shared/schemas/bulk.ts';
import { readWebhookOutcome } from '../../../shared/webhook-queue.ts';
import { iso } from '../jobs.ts';
import type { BulkDeps } from './submit.ts';

/** Default and largest page: ranking entries for form 1 (and /rerank jobs), requests for form 2. */
export const PAGE_LIMITS = { query: { default: 1_000, max: 10_000 }, requests: { default: 10, max: 100 } } as const;

export interface PageRequest {
  offset?: number;
  limit?: number;
}

export function pageBounds(form: 'query' | 'requests', total: number, page: PageRequest) {
  const limits = PAGE_LIMITS[form];
  const offset = page.offset ?? 0;
  const limit = Math.min(page.limit ?? limits.default, limits.max);
  if (limit < 1) throw new ServiceError('VALIDATION_FAILED', 'limit must be at least 1.', { field: 'limit' });
  const end = Math.min(total, offset + limit);
  return { offset, limit, end, next_offset: end < total ? end : null };
}

/**
 * The record, for its owner only: another key's job is a 404 like an unknown one (not a 403), so the answer does
 * not tell whether it exists. Records from before owners were recorded belong to open mode.
 */
export async function findBulkRecord(deps: BulkDeps, id: string, owner: string): Promise<BulkRecord> {
  const record = await deps.withRedis(() => readBulkRecord(deps.redis, deps.prefix, id));
  if (!record || (record.owner ?? OPEN_OWNER) !== owner) throw new ServiceError('JOB_NOT_FOUND');
  return record;
}

export async function bulkResultPage(deps: BulkDeps, record: BulkRecord, page: PageRequest): Promise<ResultPage> {
  if (record.status !== 'completed') throw new ServiceError('RESULT_NOT_READY', undefined, { status: record.status });
  return record.form === 'requests' ? requestsPage(deps, record, page) : rankingPage(deps, record, page);
}

async function rankingPage(deps: BulkDeps, record: BulkRecord, page: PageRequest): Promise<RankingPage> {
  const kept = record.kept ?? 0;
  const { end, ...bounds } = pageBounds('query', kept, page);
  const bytes = await deps.withRedis(() => readRankedEntries(deps.redis, deps.prefix, record.id, bounds.offset, end));
  const topKApplied = record.topK !== undefined && record.topK < record.total;
  return { job_id: record.id, ...bounds, total: kept, rankings: decodeEntries(bytes), top_k_applied: topKApplied };
}

async function requestsPage(deps: BulkDeps, record: BulkRecord, page: PageRequest): Promise<RequestsPage> {
  const requests = record.requests ?? [];
  const { end, ...bounds } = pageBounds('requests', requests.length, page);
  const shown = requests.slice(bounds.offset, end);
  const first = shown[0]?.ranked ?? 0;
  const last = shown.at(-1);
  const to = last ? (last.ranked ?? 0) + (last.kept ?? 0) : first;
  const entries = decodeEntries(await deps.withRedis(() => readRankedEntries(deps.redis, deps.prefix, record.id, first, to)));
  const results = shown.map((request, k) => {
    const from = (request.ranked ?? 0) - first;
    const result = {
      index: bounds.offset + k,
      rankings: entries.slice(from, from + (request.kept ?? 0)),
      top_k_applied: request.top_k !== undefined && request.top_k < request.count,
    };
    return request.id === undefined ? result : { ...result, id: request.id };
  });
  return { job_id: record.id, ...bounds, total: requests.length, results };
}

export async function bulkJobStatus(deps: BulkDeps, record: BulkRecord): Promise<BulkJobStatus> {
  const view: BulkJobStatus = {
    job_id: record.id,
    status: record.status,
    progress: { done: record.done, total: record.total },
    chunks: record.chunks,
    workers: Object.entries(record.workers).map(([worker_id, chunks]) => ({ worker_id, chunks })),
    created_at: iso(record.createdAt) ?? '',
  };
  if (record.requests) view.requests = record.requests.length;
  if (record.startedAt !== undefined) view.started_at = iso(record.startedAt);
  if (record.finishedAt !== undefined) view.finished_at = iso(record.finishedAt);
  if (record.error) view.error = record.error;
  if (record.status === 'completed') {
    view.result = await bulkResultPage(deps, record, {});
    view.result_url = `/jobs/${record.id}/result`;
  }
  if (record.callbackUrl !== undefined) {
    const webhook = await deps.withRedis(() => readWebhookOutcome(deps.redis, deps.prefix, record.id));
    if (webhook) view.webhook = webhook;
  }
  return view;
}
