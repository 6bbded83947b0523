/**
 * One concise line per request, in place of Fastify's default pair of lines (disabled in app.ts): request id
 * (reqId, from Fastify's request logger), route pattern, status, duration and sizes. Probes and scrapes (/health,
 * /ready, /metrics) log at debug, so a scraper every few seconds does not drown the requests that matter.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { round1 } from '../../shared/figures.ts';

const QUIET_ROUTES = new Set(['/health', '/ready', '/metrics']);

function byteCount(value: unknown): number | undefined {
  const bytes = Number(value);
  return value === undefined || !Number.isFinite(bytes) ? undefined : bytes;
}

/** Documents in a /rerank body, once parsed; undefined for other requests. */
function documentCount(body: unknown): number | undefined {
  const documents = (body as { documents?: unknown } | null | undefined)?.documents;
  return Array.isArray(documents) ? documents.length : undefined;
}

function requestLogFields(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url,
    route: request.routeOptions.url,
    status: reply.statusCode,
    durationMs: round1(reply.elapsedTime),
    requestBytes: byteCount(request.headers['content-length']),
    responseBytes: byteCount(reply.getHeader('content-length')),
    documents: documentCount(request.body),
  };
}

export const requestLogPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url;
      const level = route !== undefined && QUIET_ROUTES.has(route) ? 'debug' : 'info';
      request.log[level](requestLogFields(request, reply), 'request');
    });
  },
  { name: 'request-log' },
);
