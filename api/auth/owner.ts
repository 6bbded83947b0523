/**
 * Who owns a job: the API key that created it (its keyId, see api-keys.ts), or OPEN_OWNER when the API runs
 * without API_KEYS. Jobs, their status URLs and Idempotency-Keys are private to their owner (docs/api.md,
 * "Who sees a job").
 */
import type { FastifyRequest } from 'fastify';

/** Every client of an open API is the same owner: without keys there is nobody to tell apart. */
export const OPEN_OWNER = 'open';

export const ownerOf = (request: FastifyRequest): string => request.apiKeyId ?? OPEN_OWNER;

/**
 * Whether the caller may see which workers (hostname-pid) ran a bulk job: only with the `metrics` scope, which
 * shows them anyway, or in open mode. Call on routes that declare a scope (there apiKeyId is set whenever keys are).
 */
export const seesWorkerIds = (request: FastifyRequest): boolean =>
  request.apiKeyId === undefined || request.apiKeyScopes?.has('metrics') === true;
