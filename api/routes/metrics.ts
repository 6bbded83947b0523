/**
 * GET /metrics: the seed's process fields for the API, plus queue counts and one entry per live worker, as JSON;
 * the same figures (and the API's request metrics) in the Prometheus text format when the client asks for it.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MetricsQuerySchema } from '../../shared/schemas/metrics.ts';
import { metricsFormat } from '../metrics/format.ts';
import { metrics, type StatusDeps } from '../services/status.ts';

export async function metricsRoutes(app: FastifyInstance, { status }: { status: StatusDeps }): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/metrics',
    { schema: { querystring: MetricsQuerySchema }, config: { scope: 'metrics' } },
    async (request, reply) => {
      const snapshot = await metrics(status);
      // Caches must not serve one format to a client that asked for the other.
      reply.header('Vary', 'Accept');
      if (metricsFormat(request.headers.accept, request.query.format) === 'json') return snapshot;
      return reply.type(app.prometheus.contentType).send(await app.prometheus.render(snapshot));
    },
  );
}
