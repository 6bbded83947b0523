/**
 * RFC 7240 `Prefer` for POST /rerank: `wait=N` (seconds) bounds how long the request waits for its job,
 * `respond-async` alone asks for the 202 at once. Other preferences are ignored, as the RFC asks.
 */
import { ServiceError } from '../shared/errors.ts';

export interface WaitPlan {
  /** How long to wait for the job before answering 202; 0 answers 202 at once. */
  waitMs: number;
  respondAsync: boolean;
  /** The honoured wait in seconds (after the cap), when the client asked for one. */
  waitSeconds?: number;
}

export function parsePrefer(
  header: string | string[] | undefined,
  limits: { defaultWaitMs: number; maxWaitMs: number },
): WaitPlan {
  const tokens = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(/[,;]/)
    .map((token) => token.trim())
    .filter((token) => token !== '');
  let respondAsync = false;
  let requested: number | undefined;
  for (const token of tokens) {
    const [name = '', rawValue] = token.split('=', 2).map((part) => part.trim());
    const key = name.toLowerCase();
    if (key === 'respond-async') respondAsync = true;
    if (key === 'wait') {
      const value = rawValue?.replace(/^"(.*)"$/, '$1') ?? '';
      if (!/^\d{1,9}$/.test(value)) {
        throw new ServiceError('INVALID_PREFER', `Prefer wait must be whole seconds, got "${value}".`);
      }
      requested = Number(value);
    }
  }
  if (requested === undefined) return { waitMs: respondAsync ? 0 : limits.defaultWaitMs, respondAsync };
  const waitMs = Math.min(requested * 1_000, limits.maxWaitMs);
  return { waitMs, respondAsync, waitSeconds: Math.floor(waitMs / 1_000) };
}

/** Preference-Applied: respond-async only when we did answer asynchronously; wait whenever we honoured it. */
export function preferenceApplied(plan: WaitPlan, answeredAsync: boolean): string | undefined {
  const applied: string[] = [];
  if (plan.respondAsync && answeredAsync) applied.push('respond-async');
  if (plan.waitSeconds !== undefined) applied.push(`wait=${plan.waitSeconds}`);
  return applied.length > 0 ? applied.join(', ') : undefined;
}
