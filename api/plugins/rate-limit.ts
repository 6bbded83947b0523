/**
 * Per-key rate limits on protected routes (those with `config.scope`), counted in Redis so every API instance
 * shares them: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS per API key, or per client IP when the API runs
 * open. Over the limit: 429 RATE_LIMITED with Retry-After. Off when RATE_LIMIT_MAX is 0 (the default).
 * Register after the auth plugin (it needs the request's key) and before the routes (it hooks them as added).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { keyPrefix } from '../../shared/queue.ts';

export const rateLimitPlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    if (config.RATE_LIMIT_MAX === 0) return;
    await app.register(rateLimit, {
      global: true,
      max: config.RATE_LIMIT_MAX,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      redis: app.redis,
      nameSpace: `${keyPrefix(config)}:rate-limit:`,
      // Redis away: do not limit; the routes that need Redis answer 503 by themselves.
      skipOnError: true,
      allowList: (request) => request.routeOptions.config.scope === undefined,
      keyGenerator: (request) => (request.apiKeyId ? `key:${request.apiKeyId}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        new ServiceError('RATE_LIMITED', `At most ${context.max} requests per ${config.RATE_LIMIT_WINDOW_MS} ms.`, {
          limit: context.max,
          window_ms: config.RATE_LIMIT_WINDOW_MS,
        }),
    });
    app.log.info({ max: config.RATE_LIMIT_MAX, window_ms: config.RATE_LIMIT_WINDOW_MS }, 'rate limits on');
  },
  { name: 'rate-limit', dependencies: ['redis', 'auth'] },
);
