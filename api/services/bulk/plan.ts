/**
 * A validated POST /jobs body as a bulk job: documents as plain strings cut into chunks of at most
 * BULK_CHUNK_DOCUMENTS pairs, fewer when they are long (ChunkPacker; form 2: requests packed in order, a large one
 * split across chunks), the per-request layout, a readable name, and a content hash for Idempotency-Key.
 */
import { createHash } from 'node:crypto';
import type { BulkRequestMeta } from '../../../shared/bulk/store.ts';
import { ServiceError } from '../../../shared/errors.ts';
import { INLINE_DOCUMENTS_MAX_CHARS } from '../../../shared/job-documents.ts';
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

/**
 * Packs reranks into chunks in order, splitting one across chunks where it does not fit. A chunk holds at most
 * chunkSize documents and INLINE_DOCUMENTS_MAX_CHARS of text: its documents travel in its job data, which a worker
 * receives whole (1,000 documents of 60 KB made one 60 MB chunk, and the worker died parsing it). A single
 * document longer than that is a chunk of its own.
 */
class ChunkPacker {
  readonly chunks: BulkSegment[][] = [];
  private current: BulkSegment[] = [];
  private size = 0;
  private chars = 0;
  offset = 0;

  constructor(private readonly chunkSize: number) {}

  add(query: string, documents: string[]): void {
    let start = 0;
    const close = (end: number) => {
      if (end > start) this.segment(query, documents.slice(start, end));
      start = end;
      this.flush();
    };
    documents.forEach((document, i) => {
      if (this.size > 0 && this.chars + document.length > INLINE_DOCUMENTS_MAX_CHARS) close(i);
      this.size += 1;
      this.chars += document.length;
      if (this.size === this.chunkSize) close(i + 1);
    });
    if (start < documents.length) this.segment(query, documents.slice(start));
  }

  finish(): BulkSegment[][] {
    this.flush();
    return this.chunks;
  }

  private segment(query: string, documents: string[]): void {
    this.current.push({ query, documents, offset: this.offset });
    this.offset += documents.length;
  }

  private flush(): void {
    if (this.current.length > 0) this.chunks.push(this.current);
    this.current = [];
    this.size = 0;
    this.chars = 0;
  }
}

export interface PlanLimits {
  /** BULK_CHUNK_DOCUMENTS. */
  chunkSize: number;
  /**
   * The longest document, in characters: MAX_BODY_BYTES, as long as a whole /rerank body. A chunk holds its documents
   * whole, and one 60 MB document took the worker's heap (128 MB) down with it.
   */
  maxDocumentChars: number;
}

/** DOCUMENT_TOO_LONG for the first document over the limit (`request`: its request's index in form 2). */
function checkLengths(documents: readonly string[], limit: number, request?: number): void {
  const index = documents.findIndex((document) => document.length > limit);
  if (index === -1) return;
  const where = request === undefined ? '' : `requests[${request}].`;
  const length = documents[index]!.length;
  const message = `${where}documents[${index}] has ${length} characters; at most ${limit} per document.`;
  throw new ServiceError('DOCUMENT_TOO_LONG', message, { index, limit, ...(request === undefined ? {} : { request }) });
}

export function planBulk(body: BulkBody, limits: PlanLimits): BulkPlan {
  const raw = body.raw_scores ?? false;
  const hash = createHash('sha256');
  const packer = new ChunkPacker(limits.chunkSize);
  const callbackUrl = body.callback_url;
  // Part of the Idempotency-Key comparison: the same documents told to another URL are another job.
  if (callbackUrl !== undefined) hash.update(JSON.stringify(['callback_url', callbackUrl]));
  const addRerank = (query: string, documents: string[], topK: number | undefined, id?: string, request?: number) => {
    checkLengths(documents, limits.maxDocumentChars, request);
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
  const requests = body.requests.map((request, index): BulkRequestMeta => {
    const offset = packer.offset;
    addRerank(request.query, request.documents.map(documentText), request.top_k, request.id, index);
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
