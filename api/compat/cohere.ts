/**
 * The Cohere (v1, v2) and Jina dialect: its requests as the native RerankRequest, the native ranking as its
 * response, catalogue errors as its {message} body. Only the shape differs from POST /rerank.
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../../shared/errors.ts';
import type {
  CohereDocument,
  CohereError,
  CohereResponse,
  CohereResult,
  CohereV1Request,
  CohereV2Request,
} from '../../shared/schemas/cohere.ts';
import type { RerankRequest, RerankResponse } from '../../shared/schemas/rerank.ts';
import type { SyncRanking } from './sync.ts';

/** Cohere bills one search unit per query with up to 100 documents. */
const DOCUMENTS_PER_SEARCH_UNIT = 100;

export function fromCohereV1(request: CohereV1Request): RerankRequest {
  return {
    query: request.query,
    documents: request.documents.map((document, index) => textToRank(document, index, request.rank_fields)),
    top_k: request.top_n ?? undefined,
    ...servedModelField(request.model),
    // Asking for chunks asks for chunking; without it, the server's LONG_DOCUMENTS applies.
    ...(request.max_chunks_per_doc ? { long_documents: 'chunk', max_chunks_per_doc: request.max_chunks_per_doc } : {}),
  };
}

export function fromCohereV2(request: CohereV2Request): RerankRequest {
  return { query: request.query, documents: request.documents, top_k: request.top_n ?? undefined, model: request.model };
}

/** Null (SDKs send unset options as null) is absent: the default model serves. */
function servedModelField(model: string | null | undefined): Pick<RerankRequest, 'model'> {
  return model === null || model === undefined ? {} : { model };
}

/**
 * A string ranks as itself; an object by its "text", or by its rank_fields in order as "field: value" lines
 * (fields it lacks are skipped), the way Cohere ranks structured documents.
 */
function textToRank(document: CohereDocument, index: number, rankFields: string[] | null | undefined): string {
  if (typeof document === 'string') return document;
  if (!rankFields) {
    if (document.text === undefined) {
      throw new ServiceError('INVALID_DOCUMENT', `documents[${index}] has no "text" and no rank_fields were given.`, {
        index,
      });
    }
    return document.text;
  }
  return rankFields
    .filter((field) => document[field] !== undefined)
    .map((field) => `${field}: ${document[field]}`)
    .join('\n');
}

export interface CohereAnswer {
  version: '1' | '2';
  /** Documents in the request: search units count them all, top_n or not. */
  documentCount: number;
  /** The request's documents, to echo when return_documents is true (v1 only). */
  echo?: CohereDocument[];
}

export function toCohereResponse({ ranking, tokens, model }: SyncRanking, answer: CohereAnswer): CohereResponse {
  const results = ranking.rankings.map(({ index, score }): CohereResult => {
    const result: CohereResult = { index, relevance_score: score };
    const document = answer.echo?.[index];
    if (document !== undefined) result.document = typeof document === 'string' ? { text: document } : document;
    return result;
  });
  const warnings = longDocumentWarnings(ranking.long_documents);
  return {
    id: randomUUID(),
    results,
    meta: {
      api_version: { version: answer.version },
      billed_units: { search_units: Math.max(1, Math.ceil(answer.documentCount / DOCUMENTS_PER_SEARCH_UNIT)) },
      ...(warnings.length > 0 ? { warnings } : {}),
    },
    model,
    usage: { total_tokens: tokens },
  } as CohereResponse;
}

/** Cohere's meta.warnings is where its clients look for notes like these. */
function longDocumentWarnings(long: RerankResponse['long_documents']): string[] {
  const warnings: string[] = [];
  if (long?.chunked) warnings.push(`${long.chunked} document(s) longer than the model window were scored in chunks.`);
  if (long?.truncated) warnings.push(`${long.truncated} document(s) may have been truncated to the model window.`);
  return warnings;
}

export function cohereErrorBody(_error: ServiceError, message: string): CohereError {
  return { message };
}
