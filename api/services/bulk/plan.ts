/**
 * A validated POST /jobs body as a bulk job: documents as plain strings cut into chunks of BULK_CHUNK_DOCUMENTS
 * pairs (form 2: requests packed in order, a large one split across chunks), the per-request layout, a readable
 * name, and a content hash for Idempotency-Key.
 */
import { createHash } from 'node:crypto';
import type { BulkRequestMeta } from '../../../shared/bulk/store.ts';
import { jobDisplayName } from '../../../shared/job-name.ts';
import type { BulkSegment } from '../../../shared/queue.ts';
import type { BulkBody, BulkRequestsBody } from '../../../shared/schemas/bulk.ts';
import { documentText } from '../../../shared/schemas/rerank.ts';

export interface BulkPlan {
  form: 'query' | 'requests';
  name: string;
  total: number;
  raw: boolean;
  topK?: number;
  requests?: BulkRequestMeta[];
  callbackUrl?: string;
  /** Each chunk's segments; a chunk holds at most chunkSize pairs. */
  chunks: BulkSegment[][];
  contentHash: string;
}

const isRequestsForm = (body: BulkBody): body is BulkRequestsBody => 'requests' in body;

/** Packs reranks into chunks in order, splitting one across chunks where it does not fit. */
class ChunkPacker {
  readonly chunks: BulkSegment[][] = [];
  private current: BulkSegment[] = [];
  private size = 0;
  offset = 0;

  constructor(private readonly chunkSize: number) {}

  add(query: string, documents: string[]): void {
    for (let start = 0; start < documents.length; ) {
      const take = Math.min(this.chunkSize - this.size, documents.length - start);
      this.current.push({ query, documents: documents.slice(start, start + take), offset: this.offset });
      this.offset += take;
      this.size += take;
      start += take;
      if (this.size === this.chunkSize) this.flush();
    }
  }

  finish(): BulkSegment[][] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.current.length > 0) this.chunks.push(this.current);
    this.current = [];
    this.size = 0;
  }
}

export function planBulk(body: BulkBody, chunkSize: number): BulkPlan {
  const raw = body.raw_scores ?? false;
  const hash = createHash('sha256');
  const packer = new ChunkPacker(chunkSize);
  const callbackUrl = body.callback_url;
  // Part of the Idempotency-Key comparison: the same documents told to another URL are another job.
  if (callbackUrl !== undefined) hash.update(JSON.stringify(['callback_url', callbackUrl]));
  const addRerank = (query: string, documents: string[], topK: number | undefined, id?: string) => {
    // Lengths keep the parts apart, so no two different bodies hash alike, without a copy of every document.
    hash.update(JSON.stringify([id ?? null, topK ?? null, query, documents.length]));
    for (const document of documents) hash.update(`${document.length}:`).update(document);
    packer.add(query, documents);
  };
  if (!isRequestsForm(body)) {
    hash.update(JSON.stringify(['query', raw]));
    addRerank(body.query, body.documents.map(documentText), body.top_k);
    const total = packer.offset;
    const name = jobDisplayName(body.query, total);
    const chunks = packer.finish();
    return { form: 'query', name, total, raw, topK: body.top_k, callbackUrl, chunks, contentHash: hash.digest('hex') };
  }
  hash.update(JSON.stringify(['requests', raw]));
  const requests = body.requests.map((request): BulkRequestMeta => {
    const offset = packer.offset;
    addRerank(request.query, request.documents.map(documentText), request.top_k, request.id);
    const meta: BulkRequestMeta = { offset, count: request.documents.length };
    if (request.id !== undefined) meta.id = request.id;
    if (request.top_k !== undefined) meta.top_k = request.top_k;
    return meta;
  });
  const total = packer.offset;
  const first = body.requests[0]?.query ?? '';
  const name = `${jobDisplayName(first, total)} in ${requests.length.toLocaleString('en-US')} requests`;
  const chunks = packer.finish();
  return { form: 'requests', name, total, raw, requests, callbackUrl, chunks, contentHash: hash.digest('hex') };
}
