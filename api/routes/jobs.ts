/** GET /jobs/:id: where a job is, and its result (ranked with the top_k in the status URL) once done. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ServiceError } from '../../shared/errors.ts';
import { JobParamsSchema, JobQuerySchema, JobStatusSchema } from '../../shared/schemas/rerank.ts';
import { findJobStatus, type JobsDeps } from '../services/jobs.ts';

export async function jobRoutes(app: FastifyInstance): Promise<void> {
  const deps: JobsDeps = { queue: app.rerankQueue, withRedis: app.withRedis };

  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/jobs/:id',
    {
      config: { scope: 'jobs' },
      schema: { params: JobParamsSchema, querystring: JobQuerySchema, response: { 200: JobStatusSchema } },
    },
    async (request) => {
      const topK = request.query.top_k === undefined ? undefined : Number(request.query.top_k);
      const status = await findJobStatus(deps, request.params.id, topK);
      if (!status) throw new ServiceError('JOB_NOT_FOUND');
      return status;
    },
  );
}
