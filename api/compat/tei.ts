/**
 * The Hugging Face TEI dialect: its rerank request as the native RerankRequest, the native ranking as its list of
 * ranks, catalogue errors as its {error, error_type} body, and the /info a TEI client reads.
 */
import type { Config } from '../../shared/config.ts';
import type { ServiceError } from '../../shared/errors.ts';
import type { RerankRequest } from '../../shared/schemas/rerank.ts';
import type { TeiError, TeiInfo, TeiRank, TeiRerankRequest } from '../../shared/schemas/tei.ts';
import { defaultModelOf } from '../../shared/served-models.ts';
import packageJson from '../../package.json' with { type: 'json' };
import type { SyncRanking } from './sync.ts';

export function fromTei(request: TeiRerankRequest): RerankRequest {
  const model = request.model === undefined ? {} : { model: request.model };
  return { query: request.query, documents: request.texts, raw_scores: request.raw_scores ?? false, ...model };
}

export function toTeiResponse({ ranking }: SyncRanking, request: TeiRerankRequest): TeiRank[] {
  return ranking.rankings.map(({ index, score }) => {
    const text = request.return_text ? request.texts[index] : undefined;
    return text === undefined ? { index, score } : { index, score, text };
  });
}

/** TEI's error kinds by status; the statuses themselves are the native routes'. */
function errorType(status: number): TeiError['error_type'] {
  if (status === 401) return 'unauthorized';
  if (status === 429) return 'overloaded';
  if (status === 503 || status === 504) return 'unhealthy';
  if (status >= 500) return 'backend';
  return 'validation';
}

export function teiErrorBody(error: ServiceError, message: string): TeiError {
  return { error: message, error_type: errorType(error.status) };
}

/**
 * This deployment described in TEI's terms, from the API's config (the API does not open the model): cross-
 * encoders have one logit, hence TEI's default single label; ONNX Runtime on CPU runs float32; pairs are always
 * truncated to the window, so auto_truncate is true.
 */
export function teiInfo(config: Config): TeiInfo {
  return {
    model_id: defaultModelOf(config),
    model_sha: null,
    model_dtype: 'float32',
    model_type: { reranker: { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } } },
    max_concurrent_requests: config.MAX_QUEUE_DEPTH,
    max_input_length: config.MAX_SEQ_LENGTH,
    max_batch_tokens: config.TOKEN_BUDGET,
    max_batch_requests: null,
    max_client_batch_size: config.MAX_DOCUMENTS,
    auto_truncate: true,
    tokenization_workers: config.WORKER_CONCURRENCY,
    version: packageJson.version,
    sha: null,
    docker_label: null,
  };
}
