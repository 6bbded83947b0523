/** The API's Prometheus registry, and request count and duration by route pattern and status for every answer. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PrometheusMetrics } from '../metrics/prometheus.ts';

declare module 'fastify' {
  interface FastifyInstance {
    prometheus: PrometheusMetrics;
  }
}

/** Requests no route matched (404s, probes for random paths) share one series. */
const UNMATCHED_ROUTE = 'unmatched';

export const prometheusPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = new PrometheusMetrics();
    app.decorate('prometheus', metrics);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      metrics.observeRequest({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1_000);
    });
  },
  { name: 'prometheus' },
);
