/**
 * Bounded retries with exponential backoff and jitter. Only FetchErrors whose code is retryable are retried;
 * anything else (a 404, a bad hash, a bug) fails at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FetchError } from './errors.ts';

export interface RetryPolicy {
  /** Total attempts including the first; at least 1. */
  attempts: number;
  /** Delay cap of the first retry; doubles with each further retry. */
  baseDelayMs: number;
  /** Upper bound of any delay, including one asked for by Retry-After. */
  maxDelayMs: number;
}

/** Five attempts over roughly 7 s: enough to ride out a hub hiccup, short enough for a person to wait on. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseDelayMs: 500, maxDelayMs: 8_000 });

/**
 * Delay before retry number `retry` (1 for the first retry). "Equal jitter": half the exponential cap plus a random
 * share of the other half, so clients that failed together do not retry together, yet never retry at once.
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return cap / 2 + random() * (cap / 2);
}

export interface RetryHooks {
  signal?: AbortSignal | undefined;
  /** Called before each wait, e.g. to tell the user why the fetch is pausing. */
  onRetry?: ((error: FetchError, retry: number, delayMs: number) => void) | undefined;
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the policy's attempts are spent. */
export async function withRetry<T>(policy: RetryPolicy, hooks: RetryHooks, attempt: () => Promise<T>): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof FetchError) || !error.retryable || retry >= policy.attempts) throw error;
      const asked = Math.min(error.retryAfterMs ?? 0, policy.maxDelayMs);
      const delayMs = Math.max(asked, backoffMs(policy, retry));
      hooks.onRetry?.(error, retry, delayMs);
      await sleep(delayMs, undefined, { signal: hooks.signal }).catch(() => {
        throw new FetchError('E_ABORTED', 'interrupted while waiting to retry', { file: error.file, cause: error });
      });
    }
  }
}
