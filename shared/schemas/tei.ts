/**
 * Hugging Face Text Embeddings Inference's rerank contract (POST /rerank, GET /info), served under /tei so a TEI
 * client takes http://host/tei as its base URL. TypeScript types are derived from these schemas.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ModelFieldSchema } from './rerank.ts';

export function teiRerankRequestSchema(maxDocuments: number) {
  return Type.Object(
    {
      query: Type.String({ minLength: 1, pattern: '\\S' }),
      texts: Type.Array(Type.String(), { minItems: 1, maxItems: maxDocuments }),
      truncate: Type.Optional(
        Type.Union([Type.Boolean(), Type.Null()], {
          description: 'Accepted; pairs longer than the window are always truncated (/info auto_truncate).',
        }),
      ),
      truncation_direction: Type.Optional(
        Type.Union([Type.Literal('Right'), Type.Literal('right')], {
          description: 'Only right truncation is supported: the end of the document is cut.',
        }),
      ),
      raw_scores: Type.Optional(Type.Boolean({ description: 'Raw logits instead of sigmoid scores; default false.' })),
      return_text: Type.Optional(Type.Boolean({ description: 'Echo each text in its result; default false.' })),
      // Not in TEI (one model per server); here it selects among the served models.
      model: Type.Optional(ModelFieldSchema),
    },
    {
      examples: [
        {
          query: 'who founded fastapi',
          texts: ['FastAPI was created by Sebastian Ramirez.', 'Flask is a Python microframework released in 2010.'],
          return_text: true,
        },
      ],
    },
  );
}

export type TeiRerankRequest = Static<ReturnType<typeof teiRerankRequestSchema>>;

export const TeiRankSchema = Type.Object({
  index: Type.Integer(),
  score: Type.Number(),
  text: Type.Optional(Type.String()),
});

export const TeiRerankResponseSchema = Type.Array(TeiRankSchema, { description: 'Sorted by score descending.' });

export type TeiRank = Static<typeof TeiRankSchema>;

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

/** The fields TEI's GET /info has; values describe this deployment (docs/api.md says how each is derived). */
export const TeiInfoSchema = Type.Object({
  model_id: Type.String(),
  model_sha: Nullable(Type.String()),
  model_dtype: Type.String(),
  model_type: Type.Object({
    reranker: Type.Object({
      id2label: Type.Record(Type.String(), Type.String()),
      label2id: Type.Record(Type.String(), Type.Integer()),
    }),
  }),
  max_concurrent_requests: Type.Integer(),
  max_input_length: Type.Integer(),
  max_batch_tokens: Type.Integer(),
  max_batch_requests: Type.Union([Type.Integer(), Type.Null()]),
  max_client_batch_size: Type.Integer(),
  auto_truncate: Type.Boolean(),
  tokenization_workers: Type.Integer(),
  version: Type.String(),
  sha: Nullable(Type.String()),
  docker_label: Nullable(Type.String()),
});

export type TeiInfo = Static<typeof TeiInfoSchema>;

export const TeiErrorTypes = ['validation', 'overloaded', 'unhealthy', 'backend', 'unauthorized'] as const;

export const TeiErrorSchema = Type.Object(
  {
    error: Type.String(),
    error_type: Type.Union(TeiErrorTypes.map((value) => Type.Literal(value))),
  },
  { examples: [{ error: 'query must be a non-empty string.', error_type: 'validation' }] },
);

export type TeiError = Static<typeof TeiErrorSchema>;
