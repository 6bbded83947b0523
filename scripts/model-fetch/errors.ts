/**
 * The catalogue of model-fetch errors. Each code says whether retrying can help and what the user should try;
 * HTTP statuses and network failures are mapped onto codes here and nowhere else.
 */

interface ErrorKind {
  /** Whether another attempt of the same request may succeed. */
  retryable: boolean;
  /** What to try next, shown at the end of the one-line error. */
  hint: string;
}

export const FETCH_ERRORS = {
  E_HUB_NOT_FOUND: { retryable: false, hint: 'check --model, --revision and that the repo has this file' },
  E_HUB_AUTH: {
    retryable: false,
    hint: 'set HF_TOKEN to a token that can read this repo (private or gated repos need one; the hub also answers 401 for repos that do not exist)',
  },
  E_HUB_UNAVAILABLE: { retryable: true, hint: 'the hub is overloaded or down; try again later' },
  E_HUB_HTTP: { retryable: false, hint: 'unexpected answer from the hub; check --endpoint / HF_ENDPOINT' },
  E_UNREACHABLE: { retryable: false, hint: 'check --endpoint / HF_ENDPOINT, the network and any proxy' },
  E_NETWORK: { retryable: true, hint: 'the connection failed; check the network and try again' },
  E_TIMEOUT: { retryable: true, hint: 'the server stopped sending; check the network and try again' },
  E_TRUNCATED: { retryable: true, hint: 'the download was cut short; try again' },
  E_SIZE_MISMATCH: { retryable: false, hint: 'the file differs from what the hub announced; try again or use another --revision' },
  E_SHA256_MISMATCH: { retryable: false, hint: 'the file is corrupt or was tampered with; try again, or check --endpoint' },
  E_WRITE: { retryable: false, hint: 'check free disk space and permissions of --out' },
  E_OUT_DIR: { retryable: false, hint: 'choose another --out, or pass --force to replace it' },
  E_ABORTED: { retryable: false, hint: 'the fetch was interrupted; run it again' },
} as const satisfies Record<string, ErrorKind>;

export type FetchErrorCode = keyof typeof FETCH_ERRORS;

/** Where an error happened; every field is optional because not every failure concerns one file. */
export interface ErrorContext {
  file?: string;
  /** The hub URL (never a signed CDN URL, which may carry credentials in its query). */
  url?: string;
  status?: number;
  /** Server-requested delay before the next attempt (Retry-After). */
  retryAfterMs?: number;
  cause?: unknown;
}

export class FetchError extends Error {
  readonly code: FetchErrorCode;
  /** What went wrong, without file, URL or hint: short enough for a progress line. */
  readonly detail: string;
  readonly file: string | undefined;
  readonly url: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: FetchErrorCode, detail: string, context: ErrorContext = {}) {
    const file = context.file ? `${context.file}: ` : '';
    const url = context.url ? ` (${context.url})` : '';
    super(`${file}${detail}${url} - ${FETCH_ERRORS[code].hint}`, { cause: context.cause });
    this.name = 'FetchError';
    this.code = code;
    this.detail = detail;
    this.file = context.file;
    this.url = context.url;
    this.status = context.status;
    this.retryAfterMs = context.retryAfterMs;
  }

  get retryable(): boolean {
    return FETCH_ERRORS[this.code].retryable;
  }
}

/** Maps an unsuccessful HTTP status onto an error code. */
export function errorForStatus(response: Response, context: ErrorContext): FetchError {
  const { status } = response;
  // The hub explains refusals in these headers (e.g. EntryNotFound, GatedRepo); they make the message actionable.
  const hubCode = response.headers.get('x-error-code');
  const hubMessage = response.headers.get('x-error-message');
  const detail = [`HTTP ${status}`, hubCode, hubMessage].filter(Boolean).join(' ');
  const full = { ...context, status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
  if (status === 404) return new FetchError('E_HUB_NOT_FOUND', detail, full);
  if (status === 401 || status === 403) return new FetchError('E_HUB_AUTH', detail, full);
  if (status === 429 || status >= 500) return new FetchError('E_HUB_UNAVAILABLE', detail, full);
  return new FetchError('E_HUB_HTTP', detail, full);
}

// A refused connection, an unknown host or a bad certificate means the endpoint (or proxy) is wrong, not busy:
// retrying would only delay the message. Resets, socket errors and temporary DNS failures (EAI_AGAIN) are worth
// another attempt.
const UNREACHABLE_CAUSES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Maps a failed fetch() (no response at all) onto an error code. */
export function errorForNetwork(error: unknown, context: ErrorContext): FetchError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const text = cause instanceof Error ? cause.message : String(cause);
  const detail = typeof code === 'string' && !text.includes(code) ? `${code} ${text}`.trim() : text;
  const kind = typeof code === 'string' && UNREACHABLE_CAUSES.has(code) ? 'E_UNREACHABLE' : 'E_NETWORK';
  return new FetchError(kind, `network error: ${detail}`, { ...context, cause: error });
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
