/**
 * Bearer API keys (API_KEYS) for every route that declares a scope:
 *
 *   app.post('/v1/rerank', { config: { scope: 'rerank' } }, handler)
 *
 * A route without `config.scope` is open (/health, /ready). With API_KEYS unset every route is open and the API
 * says so once at start-up. No key: 401 with WWW-Authenticate; a key without the route's scope: 403.
 * Register this plugin before the routes and before anything that reads bodies: it runs first in onRequest.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { findKey, keyId, parseApiKeys, type ApiKey, type Scope } from '../auth/api-keys.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a key needs for this route when API_KEYS is set; no scope: the route is open. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** Short id of the request's API key (see keyId), once authenticated; undefined on open routes or open mode. */
    apiKeyId: string | undefined;
    /** The request's API key's scopes, once authenticated; undefined where apiKeyId is. */
    apiKeyScopes: ReadonlySet<Scope> | undefined;
  }
}

const CHALLENGE = 'Bearer realm="rerank-queue"';

function bearerToken(request: FastifyRequest): string | undefined {
  return request.headers.authorization?.match(/^Bearer +(\S+) *$/i)?.[1];
}

function refuse(reply: FastifyReply, challenge: string, message: string): never {
  reply.header('WWW-Authenticate', challenge);
  throw new ServiceError('UNAUTHORIZED', message);
}

function authenticate(keys: readonly ApiKey[], request: FastifyRequest, reply: FastifyReply, scope: Scope): void {
  const token = bearerToken(request);
  if (token === undefined) refuse(reply, CHALLENGE, 'Send an API key: Authorization: Bearer <key>.');
  const key = findKey(keys, token);
  if (!key) refuse(reply, `${CHALLENGE}, error="invalid_token"`, 'The API key is not valid.');
  if (!key.scopes.has(scope)) throw new ServiceError('FORBIDDEN', undefined, { scope });
  request.apiKeyId = keyId(key);
  request.apiKeyScopes = key.scopes;
}

export const authPlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    app.decorateRequest('apiKeyId', undefined);
    app.decorateRequest('apiKeyScopes', undefined);
    if (!config.API_KEYS) {
      app.log.warn('API_KEYS is not set: every route is open to anyone who can reach the API');
      return;
    }
    const keys = parseApiKeys(config.API_KEYS);
    app.log.info({ keys: keys.length }, 'API keys required on protected routes');
    app.addHook('onRequest', async (request, reply) => {
      const scope = request.routeOptions.config.scope;
      if (scope) authenticate(keys, request, reply, scope);
    });
  },
  { name: 'auth' },
);
