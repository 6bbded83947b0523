/**
 * The API application: shared resources as plugins (redis -> queue -> job waiter), then routes. Every error a
 * request can meet goes through toServiceError and leaves as {"error": {code, message, details?}}.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import type { Config } from '../shared/config.ts';
import { ServiceError, errorBody } from '../shared/errors.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import { ProcessStatsSampler } from '../shared/process-stats.ts';
import { requestTimeouts, writeClientError } from './client-errors.ts';
import { toServiceError } from './errors.ts';
import { jsonBodyParser } from './json-body.ts';
import { authPlugin } from './plugins/auth.ts';
import { bodyGuardPlugin } from './plugins/body-guard.ts';
import { dashboardPlugin } from './plugins/dashboard.ts';
import { jobWaiterPlugin } from './plugins/job-waiter.ts';
import { prometheusPlugin } from './plugins/prometheus.ts';
import { openapiPlugin } from './plugins/openapi.ts';
import { queuePlugin } from './plugins/queue.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { redisPlugin } from './plugins/redis.ts';
import { webhookQueuePlugin } from './plugins/webhook-queue.ts';
import { requestLogPlugin } from './plugins/request-log.ts';
import { trackRouteMethods } from './route-methods.ts';
import { bulkRoutes } from './routes/bulk.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { rerankRoutes } from './routes/rerank.ts';
import { cohereRoutes } from './routes/compat-cohere.ts';
import { teiRoutes } from './routes/compat-tei.ts';
import type { StatusDeps } from './services/status.ts';

export interface AppDeps {
  /** Defaults to the service's pino logger at config.LOG_LEVEL. */
  logger?: Logger;
  /** Sees every route as it is registered (the OpenAPI test checks that each one is documented). */
  onRoute?: (route: RouteOptions) => void;
}

/** Errors a retry can cure: Retry-After says when it is worth trying again. */
const RETRY_AFTER_SECONDS: Partial<Record<ServiceError['code'], string>> = {
  QUEUE_FULL: '1',
  REDIS_UNAVAILABLE: '1',
  SERVER_BUSY: '1',
  SHUTTING_DOWN: '1',
};

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const serviceError = toServiceError(error, { bodyLimit: request.routeOptions?.bodyLimit });
  // An outage of Redis is logged once by the redis plugin, not once per request.
  if (serviceError.status >= 500 && serviceError.code !== 'REDIS_UNAVAILABLE') {
    request.log.error({ err: error, code: serviceError.code }, 'request failed');
  }
  const retryAfter = RETRY_AFTER_SECONDS[serviceError.code];
  if (retryAfter) reply.header('Retry-After', retryAfter);
  return reply.code(serviceError.status).send(errorBody(serviceError));
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Our pino is a newer major than the one Fastify's types are written against; it is compatible at runtime.
    loggerInstance: (deps.logger ?? createLogger(config, 'api')) as FastifyBaseLogger,
    bodyLimit: config.MAX_BODY_BYTES,
    // Fastify's two lines per request are noise; plugins/request-log.ts writes one concise line instead, and
    // errors are logged by sendError.
    logController: new LogController({ disableRequestLogging: true }),
    // A malformed URL is the client's error like any other.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    // Refuse what does not match instead of fixing it up: no type coercion ("3" is not a top_k), and unknown
    // fields are errors rather than silently removed.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: false,
    // Slow clients: the whole request (headers and body) within REQUEST_TIMEOUT_MS, else 408 (client-errors.ts).
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: requestTimeouts(config.REQUEST_TIMEOUT_MS),
    clientErrorHandler: writeClientError,
  });

  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);

  // JSON only: any other content type (text/plain included) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', jsonBodyParser(config));

  // While closing, refuse new requests in our own envelope (Fastify's built-in 503 has another shape), and end
  // each connection after its response: an idle keep-alive connection would hold close() up until it times out.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new ServiceError('SHUTTING_DOWN');
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('Connection', 'close');
    return payload;
  });
  app.setErrorHandler(sendError);
  const routeMethods = trackRouteMethods(app);
  app.setNotFoundHandler((request, reply) => sendError(routeMethods.notFound(request, reply), request, reply));

  // Metrics and logs first: one onResponse hook each, for every route registered after them (and for 404s).
  await app.register(prometheusPlugin);
  await app.register(requestLogPlugin);
  // Keys next (a bad API_KEYS stops start-up before any connection is opened), then body budget and nesting,
  // then per-key rate limits; all before the routes.
  await app.register(authPlugin, { config });
  await app.register(redisPlugin, { config });
  await app.register(queuePlugin, { config });
  await app.register(jobWaiterPlugin, { config });
  await app.register(webhookQueuePlugin, { config });
  await app.register(bodyGuardPlugin, { config });
  await app.register(rateLimitPlugin, { config });
  // Every BullMQ queue the API opens, for the dashboard: a new queue is one more entry here.
  const serviceQueues = [...app.rerankQueues.values(), app.bulkQueue, app.webhookQueue];
  await app.register(dashboardPlugin, { config, queues: serviceQueues });
  await app.register(openapiPlugin);

  const status: StatusDeps = {
    config,
    redis: app.redis,
    queue: app.rerankQueue,
    queues: app.rerankQueues,
    waiter: app.jobWaiter,
    sampler: new ProcessStatsSampler(),
    withRedis: app.withRedis,
  };
  await app.register(rerankRoutes, { config });
  await app.register(jobRoutes, { config });
  await app.register(bulkRoutes, { config });
  await app.register(healthRoutes, { status });
  await app.register(metricsRoutes, { status });
  await app.register(cohereRoutes, { config });
  await app.register(teiRoutes, { config });
  return app;
}
