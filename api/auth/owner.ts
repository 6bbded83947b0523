/**
 * Who owns a job: the API key that created it (its keyId, see api-keys.ts), or OPEN_OWNER when the API runs
 * without API_KEYS. Jobs, their status URLs and Idempotency-Keys are private to their owner (docs/api.md,
 * "Who sees a job").
 */
import type { FastifyRequest } from 'fastify';

/** Every client of an open API is the same owner: without keys there is nobody to tell apart. */
export const OPEN_OWNER = 'open';

export const ownerOf = (request: FastifyRequest): string => request.apiKeyId ?? OPEN_OWNER;
