/**
 * What every compatibility route shares: the native service, waited for synchronously. These APIs have no 202
 * (the Cohere SDK counts every 2xx as success), so a job that outlives the wait is a 504 with Retry-After; the
 * retry is an identical request and joins the same job.
 */
import { ServiceError } from '../../shared/errors.ts';
import { documentText, type RerankRequest, type RerankResponse } from '../../shared/schemas/rerank.ts';
import { rerank, type RerankDeps } from '../services/rerank.ts';
import { depsForModel, type ServedModels } from '../services/served-models.ts';

export interface SyncRanking {
  ranking: RerankResponse;
  /** Tokens the model read: the worker's count, or an estimate for results that lack it (see estimateTokens). */
  tokens: number;
  /** The served model that scored (the request's `model` resolved). */
  model: string;
}

/** `owner`: a retry after a 504 joins the job only when it comes from the same API key (services/job-id.ts). */
export async function rerankSync(
  deps: RerankDeps,
  models: ServedModels,
  request: RerankRequest,
  owner: string,
): Promise<SyncRanking> {
  const modelDeps = await depsForModel(deps, models, request.model);
  const outcome = await rerank(modelDeps, request, deps.config.MAX_SYNC_WAIT_MS, owner);
  if (outcome.kind === 'accepted') throw new ServiceError('SYNC_TIMEOUT');
  const { model, maxLength } = modelDeps.model;
  return { ranking: outcome.body, tokens: outcome.tokens ?? estimateTokens(request, maxLength), model };
}

/** The usual ~4 characters per token of English WordPiece, plus [CLS] and two [SEP]s, capped at the window. */
const CHARS_PER_TOKEN = 4;
const SPECIAL_TOKENS = 3;

/** Only for results of workers that predate token counts in job results; documented as an estimate. */
export function estimateTokens(request: Pick<RerankRequest, 'query' | 'documents'>, maxLength: number): number {
  let total = 0;
  for (const document of request.documents) {
    const chars = request.query.length + documentText(document).length;
    total += Math.min(maxLength, Math.ceil(chars / CHARS_PER_TOKEN) + SPECIAL_TOKENS);
  }
  return total;
}
