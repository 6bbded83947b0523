/** What the compatibility routes declare alike: their auth scope and their documented error statuses. */
import type { TSchema } from '@sinclair/typebox';

/**
 * The API-key scope these routes need (read by the auth hook from the route's config). A variable, not a literal
 * in each route, so it type-checks whether or not the auth plugin has declared the field yet; `as const` keeps it
 * assignable should that field be a union of scope names.
 */
export const COMPAT_ROUTE_CONFIG = { scope: 'rerank' } as const;

/** Every error status a compatibility route can answer, all in the dialect's error body. */
export const COMPAT_ERROR_STATUSES = [400, 401, 413, 415, 422, 429, 500, 503, 504] as const;

/** A read-only route without a body can only meet auth, overload and availability errors. */
export const COMPAT_GET_ERROR_STATUSES = [401, 429, 503] as const;

export function errorResponses(
  schema: TSchema,
  statuses: readonly number[] = COMPAT_ERROR_STATUSES,
): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, schema]));
}
