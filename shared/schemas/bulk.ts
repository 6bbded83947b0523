/**
 * The HTTP contract of bulk jobs: POST /jobs (two body forms), GET /jobs/:id for a bulk job, its result pages
 * (GET /jobs/:id/result) and DELETE /jobs/:id. TypeScript types are derived from these schemas.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DocumentSchema, JobAcceptedSchema, RankingSchema } from './rerank.ts';
import { WebhookOutcomeSchema } from './webhook.ts';

const Query = Type.String({ minLength: 1, pattern: '\\S' });
const TopK = Type.Optional(Type.Integer({ minimum: 1 }));
/** Checked against WEBHOOK_ALLOWED_HOSTS when the job is submitted (api/services/callback-url.ts). */
const CallbackUrl = Type.Optional(
  Type.String({ description: 'Told {job_id, status, finished_at}, signed, when it ends (docs/api.md, Webhooks).' }),
);

export interface BulkLimits {
  maxBulkDocuments: number;
  maxRequests: number;
  maxDocuments: number;
}

/** Form 1: one query over many documents. */
export function bulkQuerySchema(limits: BulkLimits) {
  return Type.Object(
    {
      query: Query,
      documents: Type.Array(DocumentSchema, { minItems: 1, maxItems: limits.maxBulkDocuments }),
      top_k: TopK,
      raw_scores: Type.Optional(Type.Boolean()),
      callback_url: CallbackUrl,
    },
    { additionalProperties: false },
  );
}

/** Form 2: many reranks at once, each like a POST /rerank body (plus an optional id of the caller's). */
export function bulkRequestsSchema(limits: BulkLimits) {
  const request = Type.Object(
    {
      id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
      query: Query,
      documents: Type.Array(DocumentSchema, { minItems: 1, maxItems: limits.maxDocuments }),
      top_k: TopK,
    },
    { additionalProperties: false },
  );
  return Type.Object(
    {
      requests: Type.Array(request, { minItems: 1, maxItems: limits.maxRequests }),
      raw_scores: Type.Optional(Type.Boolean()),
      callback_url: CallbackUrl,
    },
    { additionalProperties: false },
  );
}

export type BulkQueryBody = Static<ReturnType<typeof bulkQuerySchema>>;
export type BulkRequestsBody = Static<ReturnType<typeof bulkRequestsSchema>>;
export type BulkBody = BulkQueryBody | BulkRequestsBody;

/** A body with `requests` is form 2, any other form 1: each form's errors are then the precise ones. */
export function bulkBodySchema(limits: BulkLimits) {
  return Type.Unsafe<BulkBody>({
    type: 'object',
    if: { type: 'object', required: ['requests'] },
    then: bulkRequestsSchema(limits),
    else: bulkQuerySchema(limits),
  });
}

export const BulkStatusValues = ['queued', 'active', 'completed', 'failed', 'cancelled'] as const;
const BulkStatus = Type.Union(BulkStatusValues.map((value) => Type.Literal(value)));

export const BulkAcceptedSchema = Type.Object({ ...JobAcceptedSchema.properties, status: BulkStatus });
export type BulkAccepted = Static<typeof BulkAcceptedSchema>;

const PageFields = {
  job_id: Type.String(),
  offset: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer(),
  /** Where the next page starts; null on the last page. */
  next_offset: Type.Union([Type.Integer(), Type.Null()]),
};

export const RankingPageSchema = Type.Object({
  ...PageFields,
  rankings: Type.Array(RankingSchema),
  top_k_applied: Type.Boolean(),
});

export const RequestsPageSchema = Type.Object({
  ...PageFields,
  results: Type.Array(
    Type.Object({
      index: Type.Integer(),
      id: Type.Optional(Type.String()),
      rankings: Type.Array(RankingSchema),
      top_k_applied: Type.Boolean(),
    }),
  ),
});

export type RankingPage = Static<typeof RankingPageSchema>;
export type RequestsPage = Static<typeof RequestsPageSchema>;
export const ResultPageSchema = Type.Union([RankingPageSchema, RequestsPageSchema]);
export type ResultPage = RankingPage | RequestsPage;

export const BulkJobStatusSchema = Type.Object({
  job_id: Type.String(),
  status: BulkStatus,
  /** Pairs scored so far and in all; never goes down. */
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
  chunks: Type.Integer(),
  /** Form 2 only: how many reranks the job holds. */
  requests: Type.Optional(Type.Integer()),
  /** Chunks each worker scored. */
  workers: Type.Array(Type.Object({ worker_id: Type.String(), chunks: Type.Integer() })),
  created_at: Type.String(),
  started_at: Type.Optional(Type.String()),
  finished_at: Type.Optional(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  /** When completed: the first page of the result, and where to read the others. */
  result: Type.Optional(ResultPageSchema),
  result_url: Type.Optional(Type.String()),
  /** With a callback_url, once the job has ended: how its webhook fared. */
  webhook: Type.Optional(WebhookOutcomeSchema),
});

export type BulkJobStatus = Static<typeof BulkJobStatusSchema>;

const Count = Type.String({ pattern: '^[0-9]{1,9}$' });
export const ResultQuerySchema = Type.Object(
  { offset: Type.Optional(Count), limit: Type.Optional(Count) },
  { additionalProperties: false },
);

/** Bulk job ids: "bj-" and 128 random bits; unguessable, unlike the content-hash ids of /rerank. */
export const BULK_JOB_ID_PATTERN = '^bj-[0-9a-f]{32}$';
export const isBulkJobId = (id: string) => new RegExp(BULK_JOB_ID_PATTERN).test(id);
