/**
 * Downloads one file: GET following redirects (the hub sends LFS files to a CDN), streamed to disk while hashing,
 * then checked against the announced length, the hub's expected size and, for LFS files, its sha256.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { FetchError, errorForNetwork, errorForStatus, type ErrorContext } from './errors.ts';
import { hubHeaders, type FileMeta, type HubRepo } from './hub.ts';
import type { Progress } from './progress.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

export interface DownloadOptions {
  repo: HubRepo;
  meta: FileMeta;
  /** The hub resolve URL; redirects from it are followed. */
  url: string;
  dest: string;
  /** Abort an attempt when no headers or body bytes arrive for this long; a slow but moving download survives. */
  stallTimeoutMs: number;
  retry: RetryPolicy;
  progress: Progress;
  signal?: AbortSignal | undefined;
}

/** A file as written to disk. */
export interface DownloadedFile {
  path: string;
  size: number;
  sha256: string;
}

export async function downloadFile(options: DownloadOptions): Promise<DownloadedFile> {
  await mkdir(dirname(options.dest), { recursive: true });
  const onRetry = (error: FetchError, retry: number, delayMs: number) =>
    options.progress.retrying(options.meta.path, error, retry, delayMs);
  return withRetry(options.retry, { signal: options.signal, onRetry }, () => downloadOnce(options));
}

async function downloadOnce(options: DownloadOptions): Promise<DownloadedFile> {
  const { meta, progress } = options;
  const context: ErrorContext = { file: meta.path, url: options.url };
  const watchdog = stallWatchdog(options.stallTimeoutMs, options.signal);
  const received = { bytes: 0 };
  const started = Date.now();
  try {
    const response = await fetch(options.url, {
      headers: hubHeaders(options.repo),
      redirect: 'follow',
      signal: watchdog.signal,
    }).catch((error: unknown) => {
      throw failure(error, options, watchdog, context) ?? errorForNetwork(error, context);
    });
    if (!response.ok || response.body === null) {
      await response.body?.cancel(); // frees the connection; an error page is of no use
      throw errorForStatus(response, context);
    }
    const announced = announcedLength(response);
    const total = meta.size ?? announced;
    progress.update(meta.path, 0, total);
    const sha256 = await saveBody(response.body, options.dest, (bytes) => {
      received.bytes = bytes;
      watchdog.kick();
      progress.update(meta.path, bytes, total);
    }).catch((error: unknown) => {
      throw failure(error, options, watchdog, context) ?? bodyLost(error, received.bytes, total, context);
    });
    verify(meta, { size: received.bytes, sha256, announced }, context);
    progress.done(meta.path, received.bytes, Date.now() - started);
    return { path: meta.path, size: received.bytes, sha256 };
  } finally {
    watchdog.stop();
  }
}

class WriteFailure extends Error {}

/** Streams the body into `dest`, returning its sha256; never holds more than a chunk in memory. */
async function saveBody(body: ReadableStream<Uint8Array>, dest: string, onBytes: (total: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(bytes);
      callback(null, chunk);
    },
  });
  const file = createWriteStream(dest);
  let writeError: Error | undefined;
  file.once('error', (error) => (writeError = error));
  try {
    // fetch's body is typed by undici-types, fromWeb's parameter by node:stream/web: the same class at run time.
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), meter, file);
  } catch (error) {
    if (writeError) throw new WriteFailure(`could not write ${dest}: ${writeError.message}`, { cause: writeError });
    throw error;
  }
  return hash.digest('hex');
}

/** Failures that have the same meaning wherever they happen: interrupted, stalled, or the disk refused. */
function failure(error: unknown, options: DownloadOptions, watchdog: Watchdog, context: ErrorContext): FetchError | undefined {
  if (options.signal?.aborted) return new FetchError('E_ABORTED', 'interrupted', { ...context, cause: error });
  if (watchdog.stalled) return new FetchError('E_TIMEOUT', `no data for ${options.stallTimeoutMs} ms`, context);
  if (error instanceof WriteFailure) return new FetchError('E_WRITE', error.message, { ...context, cause: error });
  return undefined;
}

function bodyLost(error: unknown, bytes: number, total: number | undefined, context: ErrorContext): FetchError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  const of = total === undefined ? '' : ` of ${total}`;
  return new FetchError('E_TRUNCATED', `connection lost after ${bytes}${of} bytes (${cause})`, { ...context, cause: error });
}

function verify(meta: FileMeta, got: { size: number; sha256: string; announced: number | undefined }, context: ErrorContext): void {
  const short = (expected: number) => `body ended after ${got.size} of ${expected} bytes`;
  if (got.announced !== undefined && got.size < got.announced) throw new FetchError('E_TRUNCATED', short(got.announced), context);
  if (meta.size !== undefined && got.size !== meta.size) {
    // Without a Content-Length, a short body is most likely a cut connection rather than a different file.
    if (got.announced === undefined && got.size < meta.size) throw new FetchError('E_TRUNCATED', short(meta.size), context);
    throw new FetchError('E_SIZE_MISMATCH', `got ${got.size} bytes, the hub announced ${meta.size}`, context);
  }
  if (meta.sha256 !== undefined && got.sha256 !== meta.sha256) {
    throw new FetchError('E_SHA256_MISMATCH', `sha256 ${got.sha256}, the hub announced ${meta.sha256}`, context);
  }
}

/** Content-Length of the bytes we will read, unknown when the server compressed them anyway. */
function announcedLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  const length = response.headers.get('content-length');
  if ((encoding && encoding !== 'identity') || length === null || !/^\d+$/.test(length)) return undefined;
  return Number(length);
}

interface Watchdog {
  signal: AbortSignal;
  readonly stalled: boolean;
  kick(): void;
  stop(): void;
}

/** Aborts the request when it makes no progress for `ms`; also aborts when the caller's signal does. */
function stallWatchdog(ms: number, outer: AbortSignal | undefined): Watchdog {
  const controller = new AbortController();
  let stalled = false;
  const timer = setTimeout(() => {
    stalled = true;
    controller.abort();
  }, ms);
  return {
    signal: outer ? AbortSignal.any([outer, controller.signal]) : controller.signal,
    get stalled() {
      return stalled;
    },
    kick: () => timer.refresh(),
    stop: () => clearTimeout(timer),
  };
}
