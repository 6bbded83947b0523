/** GET /health (the process is up; touches nothing) and GET /ready (Redis answers and a worker has a model). */
import type { FastifyInstance } from 'fastify';
import { ServiceError, errorBody } from '../../shared/errors.ts';
import { readiness, type StatusDeps } from '../services/status.ts';

export async function healthRoutes(app: FastifyInstance, { status }: { status: StatusDeps }): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const result = await readiness(status);
    if (result.status === 'ready') return reply.code(200).send(result);
    // The probe's details plus the usual error envelope, so clients that read any non-2xx the same way can.
    const notReady = new ServiceError('NOT_READY');
    return reply.code(notReady.status).send({ ...result, ...errorBody(notReady) });
  });
}
