/**
 * How a fetch reports progress: one live line per file on a terminal, one line per finished file in logs, and
 * nothing at all in tests (the library's default).
 */
import type { FetchError } from './errors.ts';

export interface Progress {
  /** Bytes of `path` received so far in the current attempt; `total` when known. */
  update(path: string, bytes: number, total: number | undefined): void;
  done(path: string, bytes: number, elapsedMs: number): void;
  /** A failed attempt that will be retried after `delayMs`. */
  retrying(path: string, error: FetchError, retry: number, delayMs: number): void;
}

export const silentProgress: Progress = Object.freeze({
  update() {},
  done() {},
  retrying() {},
});

/** Live line on a TTY, line per file otherwise. */
export function progressFor(stream: NodeJS.WriteStream): Progress {
  return stream.isTTY ? ttyProgress(stream) : lineProgress(stream);
}

function lineProgress(stream: NodeJS.WritableStream): Progress {
  return {
    update() {},
    done(path, bytes, elapsedMs) {
      stream.write(`${path}  ${formatBytes(bytes)}  ${formatRate(bytes, elapsedMs)}\n`);
    },
    retrying(path, error, retry, delayMs) {
      stream.write(retryLine(path, error, retry, delayMs));
    },
  };
}

/** Redraws at most every 100 ms so a fast download does not flood the terminal. */
const REDRAW_MS = 100;

function ttyProgress(stream: NodeJS.WritableStream): Progress {
  let started = 0;
  let lastDraw = 0;
  let current: string | undefined;
  const draw = (text: string) => stream.write(`\r\x1b[2K${text}`);
  return {
    update(path, bytes, total) {
      const now = Date.now();
      if (path !== current || bytes === 0) [current, started, lastDraw] = [path, now, 0];
      if (now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      const percent = total ? `  ${((100 * bytes) / total).toFixed(0).padStart(3)}%` : '';
      const size = total ? `${formatBytes(bytes)} / ${formatBytes(total)}` : formatBytes(bytes);
      draw(`${path}  ${size}${percent}  ${formatRate(bytes, now - started)}`);
    },
    done(path, bytes, elapsedMs) {
      current = undefined;
      draw(`${path}  ${formatBytes(bytes)}  ${formatRate(bytes, elapsedMs)}\n`);
    },
    retrying(path, error, retry, delayMs) {
      current = undefined;
      draw(retryLine(path, error, retry, delayMs));
    },
  };
}

function retryLine(path: string, error: FetchError, retry: number, delayMs: number): string {
  return `${path}: ${error.code} ${error.detail}; retry ${retry} in ${(delayMs / 1000).toFixed(1)} s\n`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

function formatRate(bytes: number, elapsedMs: number): string {
  return `${formatBytes(Math.round((bytes * 1000) / Math.max(elapsedMs, 1)))}/s`;
}
