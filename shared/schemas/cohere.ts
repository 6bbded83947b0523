/**
 * The Cohere rerank contract (v1, which Jina's API shares, and v2) as this service speaks it. Field names are
 * Cohere's (snake_case on the wire); unknown fields are ignored, as the hosted APIs do, so that clients sending
 * newer options keep working. TypeScript types are derived from these schemas.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ModelFieldSchema } from './rerank.ts';

/** Optional, and null means absent: SDKs built on cohere-ai send unset options as null (LangChain does). */
const Maybe = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

const QuerySchema = Type.String({ minLength: 1, pattern: '\\S', description: 'The search query.' });
const TopNSchema = Type.Integer({ minimum: 1, description: 'How many results to return; default: all.' });
const ModelSchema = ModelFieldSchema;

/** Cohere v1 and Jina documents: a string, or an object of string fields ("text" unless rank_fields says). */
export const CohereDocumentSchema = Type.Union([
  Type.String(),
  Type.Record(Type.String(), Type.String()),
]);

export type CohereDocument = Static<typeof CohereDocumentSchema>;

/** The README's example in Cohere's shape. */
const V2_EXAMPLE = {
  model: 'cross-encoder/ms-marco-TinyBERT-L-2-v2',
  query: 'who founded fastapi',
  documents: ['FastAPI was created by Sebastian Ramirez.', 'Flask is a Python microframework released in 2010.'],
  top_n: 1,
};
const V1_EXAMPLE = { ...V2_EXAMPLE, return_documents: true };

export function cohereV1RequestSchema(maxDocuments: number) {
  return Type.Object(
    {
      model: Maybe(ModelSchema),
      query: QuerySchema,
      documents: Type.Array(CohereDocumentSchema, { minItems: 1, maxItems: maxDocuments }),
      top_n: Maybe(TopNSchema),
      return_documents: Maybe(Type.Boolean({ description: 'Echo each document in its result; default false.' })),
      rank_fields: Maybe(
        Type.Array(Type.String(), {
          minItems: 1,
          description: 'Object fields to rank on, in this order, as "field: value" lines; default ["text"].',
        }),
      ),
      max_chunks_per_doc: Maybe(
        Type.Integer({ minimum: 1, description: 'Score long documents by up to this many windows (chunking).' }),
      ),
    },
    { examples: [V1_EXAMPLE] },
  );
}

export type CohereV1Request = Static<ReturnType<typeof cohereV1RequestSchema>>;

export function cohereV2RequestSchema(maxDocuments: number) {
  return Type.Object(
    {
      model: ModelSchema,
      query: QuerySchema,
      documents: Type.Array(Type.String(), { minItems: 1, maxItems: maxDocuments }),
      top_n: Maybe(TopNSchema),
      max_tokens_per_doc: Maybe(
        Type.Integer({
          minimum: 1,
          description: 'Accepted; long documents follow LONG_DOCUMENTS (truncated to the window by default).',
        }),
      ),
      priority: Maybe(Type.Integer({ minimum: 0, description: 'Accepted and ignored.' })),
    },
    { examples: [V2_EXAMPLE] },
  );
}

export type CohereV2Request = Static<ReturnType<typeof cohereV2RequestSchema>>;

const ResultSchema = Type.Object({
  index: Type.Integer({ description: 'Position of the document in the request.' }),
  relevance_score: Type.Number({ description: 'sigmoid(logit), the native route\'s score.' }),
  document: Type.Optional(CohereDocumentSchema),
});

function responseSchema(version: '1' | '2') {
  return Type.Object({
    id: Type.String(),
    results: Type.Array(ResultSchema, { description: 'Sorted by relevance_score descending, ties by index.' }),
    meta: Type.Object({
      api_version: Type.Object({ version: Type.Literal(version) }),
      billed_units: Type.Object({ search_units: Type.Integer({ description: 'One per started 100 documents.' }) }),
      warnings: Type.Optional(Type.Array(Type.String(), { description: 'Documents chunked or truncated, if any.' })),
    }),
    model: Type.String({ description: 'The served model (Jina returns it).' }),
    usage: Type.Object({ total_tokens: Type.Integer({ description: 'Tokens the model read (Jina returns it).' }) }),
  });
}

export const CohereV1ResponseSchema = responseSchema('1');
export const CohereV2ResponseSchema = responseSchema('2');

export type CohereResult = Static<typeof ResultSchema>;
export type CohereResponse = Static<typeof CohereV1ResponseSchema> | Static<typeof CohereV2ResponseSchema>;

/** Cohere's error body; the status codes are the native routes' (docs/api.md). */
export const CohereErrorSchema = Type.Object(
  { message: Type.String() },
  { examples: [{ message: 'query must be a non-empty string.' }] },
);

export type CohereError = Static<typeof CohereErrorSchema>;
