/** GET /metrics: the seed's process fields for the API, plus queue counts and one entry per live worker. */
import type { FastifyInstance } from 'fastify';
import { metrics, type StatusDeps } from '../services/status.ts';

export async function metricsRoutes(app: FastifyInstance, { status }: { status: StatusDeps }): Promise<void> {
  app.get('/metrics', { config: { scope: 'metrics' } }, async () => metrics(status));
}
