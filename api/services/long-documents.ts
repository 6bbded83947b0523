/**
 * Long documents on the API side: which requests are scored by windows (chunking) and with what settings, which
 * travel in the job data (and so in its id), so the worker scores exactly what the request asked for.
 */
import type { Config } from '../../shared/config.ts';
import type { RerankJobData } from '../../shared/queue.ts';
import type { RerankRequest } from '../../shared/schemas/rerank.ts';

/** `{chunk}` when this request's long documents are chunked, else nothing (they are truncated). */
export function chunkSettings(request: RerankRequest, config: Config): Pick<RerankJobData, 'chunk'> {
  if ((request.long_documents ?? config.LONG_DOCUMENTS) !== 'chunk') return {};
  const maxChunks = Math.min(request.max_chunks_per_doc ?? config.MAX_CHUNKS_PER_DOC, config.MAX_CHUNKS_PER_DOC);
  return { chunk: { overlapTokens: config.CHUNK_OVERLAP_TOKENS, maxChunks } };
}
