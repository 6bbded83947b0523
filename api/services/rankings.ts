/** The seed's response from a job's scores: sorted by score descending, ties by index, cut to top_k. */
import type { RerankJobResult } from '../../shared/queue.ts';
import type { RerankResponse } from '../../shared/schemas/rerank.ts';

export function rankScores(scores: readonly number[], topK?: number): RerankResponse {
  const rankings = scores
    .map((score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const topKApplied = topK !== undefined && topK < rankings.length;
  return { rankings: topKApplied ? rankings.slice(0, topK) : rankings, top_k_applied: topKApplied };
}

/**
 * A job's result as the response: its ranking (scores from the job's result key), and what happened to long
 * documents when the worker says.
 */
export function rankResult(
  scores: readonly number[],
  result: Pick<RerankJobResult, 'longDocuments'> | undefined,
  topK?: number,
): RerankResponse {
  const response = rankScores(scores, topK);
  if (result?.longDocuments) response.long_documents = result.longDocuments;
  return response;
}
