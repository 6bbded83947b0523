/**
 * POST /jobs as `application/x-ndjson` (form 1 only): the first line is the header `{"query", "top_k"?,
 * "raw_scores"?}`, then one document per line (a JSON string or `{"text": ...}`). Read line by line, so the API
 * never holds the raw body and its parsed copy at once: a 100,000-document job stays within the memory target
 * (bench/bulk.ts). The same checks and error codes as the JSON form.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ServiceError } from '../../../shared/errors.ts';
import { payloadTooLarge } from '../../errors.ts';
import type { BulkQueryBody } from '../../../shared/schemas/bulk.ts';

export interface NdjsonLimits {
  maxBytes: number;
  maxDocuments: number;
}

const HEADER_FIELDS = new Set(['query', 'top_k', 'raw_scores', 'callback_url']);

function parseLine(line: string, what: () => ServiceError): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw what();
  }
}

function checkHeader(value: unknown): Omit<BulkQueryBody, 'documents'> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ServiceError(
      'VALIDATION_FAILED',
      'The first line must be a JSON object: {"query", "top_k"?, "raw_scores"?, "callback_url"?}.',
    );
  }
  const header = value as Record<string, unknown>;
  const unknown = Object.keys(header).find((field) => !HEADER_FIELDS.has(field));
  if (unknown !== undefined) throw new ServiceError('UNKNOWN_FIELD', `Unknown field "${unknown}".`, { field: unknown });
  if (typeof header.query !== 'string' || !/\S/.test(header.query)) throw new ServiceError('EMPTY_QUERY');
  const topK = header.top_k;
  if (topK !== undefined && !(Number.isInteger(topK) && (topK as number) >= 1)) throw new ServiceError('INVALID_TOP_K');
  if (header.raw_scores !== undefined && typeof header.raw_scores !== 'boolean') {
    throw new ServiceError('VALIDATION_FAILED', 'raw_scores must be boolean.', { field: 'raw_scores' });
  }
  if (header.callback_url !== undefined && typeof header.callback_url !== 'string') {
    throw new ServiceError('VALIDATION_FAILED', 'callback_url must be a string.', { field: 'callback_url' });
  }
  return {
    query: header.query,
    top_k: topK as number | undefined,
    raw_scores: header.raw_scores as boolean | undefined,
    callback_url: header.callback_url,
  };
}

function documentText(value: unknown, index: number): string {
  if (typeof value === 'string') return value;
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  const text = (value as { text?: unknown } | null)?.text;
  if (keys.length === 1 && typeof text === 'string') return text;
  throw new ServiceError('INVALID_DOCUMENT', undefined, { index });
}

export async function readNdjsonBody(stream: Readable, limits: NdjsonLimits): Promise<BulkQueryBody> {
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > limits.maxBytes) stream.destroy(payloadTooLarge(limits.maxBytes));
  });
  let header: Omit<BulkQueryBody, 'documents'> | undefined;
  const documents: string[] = [];
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    if (!header) {
      header = checkHeader(parseLine(line, () => new ServiceError('INVALID_JSON', 'The first line is not valid JSON.')));
      continue;
    }
    const index = documents.length;
    if (index >= limits.maxDocuments) {
      throw new ServiceError('TOO_MANY_DOCUMENTS', `At most ${limits.maxDocuments} documents per bulk job.`, {
        limit: limits.maxDocuments,
      });
    }
    documents.push(documentText(parseLine(line, () => new ServiceError('INVALID_DOCUMENT', undefined, { index })), index));
  }
  if (!header) throw new ServiceError('INVALID_JSON', 'The request body is empty.');
  if (documents.length === 0) throw new ServiceError('NO_DOCUMENTS');
  return { ...header, documents };
}
