/**
 * The HTTP contract of POST /rerank and GET /jobs/:id. The seed's fields (rankings, index, score, top_k_applied)
 * keep their names and meaning; TypeScript types are derived from these schemas.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Documents as in the seed ({"text": ...}); plain strings are accepted too. */
export const DocumentSchema = Type.Union([
  Type.String(),
  Type.Object({ text: Type.String() }, { additionalProperties: false }),
]);

export type Document = Static<typeof DocumentSchema>;

/** A document's text, whichever of the two forms it came in. */
export function documentText(document: Document): string {
  return typeof document === 'string' ? document : document.text;
}
/** Shared by every dialect that names a model (native, Cohere, Jina, TEI). */
export const ModelFieldSchema = Type.String({
  minLength: 1,
  description: 'A served model (SERVED_MODELS) or an alias of one; default: the first served model. Unknown: 400.',
});

/** The README's example (the seed's), shown in the OpenAPI document. */
const SEED_EXAMPLE = {
  query: 'who founded fastapi',
  documents: [
    { text: 'FastAPI was created by Sebastian Ramirez.' },
    { text: 'Flask is a Python microframework released in 2010.' },
  ],
  top_k: 1,
};

/**
 * The request body. Unknown fields are rejected (a misspelt "topk" must not be silently ignored), and the
 * document limit comes from config, so the schema is built per app.
 */
export function rerankRequestSchema(maxDocuments: number) {
  return Type.Object(
    {
      // At least one non-blank character: a query of spaces ranks nothing.
      query: Type.String({ minLength: 1, pattern: '\\S' }),
      documents: Type.Array(DocumentSchema, { minItems: 1, maxItems: maxDocuments }),
      top_k: Type.Optional(Type.Integer({ minimum: 1 })),
      raw_scores: Type.Optional(Type.Boolean()),
      // Long documents (chunking)
      long_documents: Type.Optional(
        Type.Union([Type.Literal('truncate'), Type.Literal('chunk')], {
          description: 'Documents longer than the window: truncate, or score overlapping windows (LONG_DOCUMENTS).',
        }),
      ),
      max_chunks_per_doc: Type.Optional(
        Type.Integer({ minimum: 1, description: 'Windows per document when chunking; capped by MAX_CHUNKS_PER_DOC.' }),
      ),
      // Several models behind one API
      model: Type.Optional(ModelFieldSchema),
    },
    { additionalProperties: false, examples: [SEED_EXAMPLE] },
  );
}

export type RerankRequest = Static<ReturnType<typeof rerankRequestSchema>>;

export const RankingSchema = Type.Object({ index: Type.Integer(), score: Type.Number() });

/** How many documents were longer than the window, and what happened to them. */
export const LongDocumentsSchema = Type.Object({
  truncated: Type.Integer({ description: 'Documents whose end was not scored (see docs/api.md).' }),
  chunked: Type.Integer({ description: 'Documents scored by two windows or more.' }),
});

export const RerankResponseSchema = Type.Object(
  {
    rankings: Type.Array(RankingSchema),
    top_k_applied: Type.Boolean(),
    long_documents: Type.Optional(LongDocumentsSchema),
  },
  { examples: [{ rankings: [{ index: 0, score: 0.91 }], top_k_applied: true }] },
);

export type RerankResponse = Static<typeof RerankResponseSchema>;

export const JobStatusValues = ['queued', 'active', 'completed', 'failed'] as const;
export type JobStatusValue = (typeof JobStatusValues)[number];

export const JobAcceptedSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Union(JobStatusValues.map((value) => Type.Literal(value))),
  status_url: Type.String(),
});

export const JobStatusSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Union(JobStatusValues.map((value) => Type.Literal(value))),
  result: Type.Optional(RerankResponseSchema),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  created_at: Type.String(),
  finished_at: Type.Optional(Type.String()),
});

export type JobStatus = Static<typeof JobStatusSchema>;

/**
 * The job ids clients see, each "xx-" and 128 random bits: "rq-" for a 202 of POST /rerank (a per-request token,
 * api/services/job-tokens.ts), "bj-" for bulk jobs (shared/schemas/bulk.ts). The internal content-hash ids of
 * /rerank jobs ("rr-" and a sha256, api/services/job-id.ts) are never handed out nor accepted.
 */
export const JOB_ID_PATTERN = '^(rq-[0-9a-f]{32}|bj-[0-9a-f]{32})$';

export const JobParamsSchema = Type.Object({ id: Type.String({ pattern: JOB_ID_PATTERN }) });

/** top_k: the request's own is remembered with its token; one given here overrides it. */
export const JobQuerySchema = Type.Object(
  { top_k: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$' })) },
  { additionalProperties: false },
);
