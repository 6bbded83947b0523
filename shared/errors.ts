/**
 * The one catalogue of error codes the service returns: stable code, HTTP status, default message.
 * HTTP bodies are always `{"error": {"code", "message", "details"?}}`; 5xx messages never carry internals.
 */
import type { ErrorBody } from './schemas/error.ts';

export const ERRORS = {
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, message: 'The request does not match the expected shape.' },
  EMPTY_QUERY: { status: 400, message: 'query must be a non-empty string.' },
  NO_DOCUMENTS: { status: 400, message: 'documents must hold at least one document.' },
  INVALID_DOCUMENT: { status: 400, message: 'Each document must be a string or an object {"text": string}.' },
  UNKNOWN_FIELD: { status: 400, message: 'The request has a field this API does not know.' },
  INVALID_TOP_K: { status: 400, message: 'top_k must be a positive integer.' },
  INVALID_PREFER: { status: 400, message: 'The Prefer header has an invalid wait value.' },
  INVALID_JOB_ID: { status: 400, message: 'The job id is malformed.' },
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  UNAUTHORIZED: { status: 401, message: 'Credentials are required for this route.' },
  JOB_NOT_FOUND: { status: 404, message: 'No job with this id (it may have expired).' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than the limit.' },
  TOO_MANY_DOCUMENTS: { status: 413, message: 'The request has more documents than the limit.' },
  DOCUMENT_TOO_LONG: { status: 413, message: 'A document is longer than the limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the request body as application/json.' },
  QUEUE_FULL: { status: 429, message: 'Too many jobs are waiting; retry later.' },
  REDIS_UNAVAILABLE: { status: 503, message: 'The job queue is unreachable; retry later.' },
  NOT_READY: { status: 503, message: 'The service is not ready.' },
  INVALID_JOB_DATA: { status: 422, message: 'The job data cannot be processed.' },
  INFERENCE_FAILED: { status: 500, message: 'The model failed to score the documents.' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error.' },
  // Webhooks (callback_url)
  INVALID_CALLBACK_URL: { status: 400, message: 'callback_url must be an absolute http(s) URL without credentials.' },
  CALLBACK_NOT_ALLOWED: { status: 400, message: 'callback_url names a host this server does not call.' },
  WEBHOOK_DELIVERY_FAILED: { status: 502, message: 'The callback_url did not accept the notification.' },
  // Compatibility routes (Cohere, Jina, TEI): synchronous only.
  SYNC_TIMEOUT: { status: 504, message: 'The job did not finish within the wait; retry later (the retry joins it).' },
  // Hostile input and access control.
  NESTING_TOO_DEEP: { status: 400, message: 'The JSON body nests arrays or objects deeper than the limit.' },
  FORBIDDEN: { status: 403, message: 'This API key does not have the scope this route needs.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This route does not support this method.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  UNSUPPORTED_CONTENT_ENCODING: { status: 415, message: 'Send the request body without Content-Encoding.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests for this key; retry after Retry-After.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request line or headers are larger than the limit.' },
  SERVER_BUSY: { status: 503, message: 'The API holds as many request bodies as it may; retry later.' },
  // Bulk jobs (POST /jobs)
  NO_REQUESTS: { status: 400, message: 'requests must hold at least one request.' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, message: 'Idempotency-Key must be 1 to 255 visible ASCII characters.' },
  TOO_MANY_REQUESTS_IN_JOB: { status: 413, message: 'The bulk job has more requests than the limit.' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    message: 'This Idempotency-Key was used with a different body; use a new key for a new job.',
  },
  RESULT_NOT_READY: { status: 409, message: 'The job has not completed; poll its status until it has.' },
  JOB_NOT_CANCELLABLE: {
    status: 409,
    message: 'Only bulk jobs can be cancelled: a /rerank job is shared by every identical request.',
  },
  // Worker operations: crash isolation and shutdown.
  WORKER_CRASHED: {
    status: 500,
    message: 'The job stopped its worker each time it ran alone; it was given up.',
    // The message says how many times; it is built by the worker and carries no internals.
    exposeMessage: true,
  },
  SHUTTING_DOWN: { status: 503, message: 'This API instance is shutting down; retry (another instance may answer).' },
  // Several models behind one API.
  UNKNOWN_MODEL: { status: 400, message: 'This deployment does not serve that model.' },
  WRONG_MODEL: { status: 500, message: 'The job reached a worker serving another model.' },
} as const satisfies Record<string, { status: number; message: string; exposeMessage?: true }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error that knows its code; the HTTP layer turns it into a response, the worker into a job failure. */
export class ServiceError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ServiceError';
    this.status = ERRORS[code].status;
  }
}

/** Derived from its schema (schemas/error.ts, which OpenAPI documents). */
export type { ErrorBody };

/** 5xx messages are replaced by the catalogue's, except for codes whose specific message is safe to show. */
export function exposesMessage(code: ErrorCode): boolean {
  return ERRORS[code].status < 500 || 'exposeMessage' in ERRORS[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** The response body for an error; 5xx bodies keep the catalogue message so internals never leak. */
export function errorBody(error: ServiceError): ErrorBody {
  const message = exposesMessage(error.code) ? error.message : ERRORS[error.code].message;
  const body: ErrorBody = { error: { code: error.code, message } };
  if (error.details !== undefined && error.status < 500) body.error.details = error.details;
  return body;
}
