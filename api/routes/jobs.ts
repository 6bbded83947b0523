/**
 * GET /jobs/:id: where a job is, and its result once done. /rerank jobs (rr-) are ranked with the top_k in the
 * status URL; bulk jobs (bj-) report progress and the first page of their result (routes/bulk.ts has the rest).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { keyPrefix } from '../../shared/queue.ts';
import { BulkJobStatusSchema, isBulkJobId } from '../../shared/schemas/bulk.ts';
import { JobParamsSchema, JobQuerySchema, JobStatusSchema } from '../../shared/schemas/rerank.ts';
import { bulkJobStatus, findBulkRecord } from '../services/bulk/view.ts';
import type { BulkDeps } from '../services/bulk/submit.ts';
import { findJobStatus, type JobsDeps } from '../services/jobs.ts';

export async function jobRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const prefix = keyPrefix(config);
  const deps: JobsDeps = {
    queue: app.rerankQueue,
    queues: [...app.rerankQueues.values()],
    redis: app.redis,
    prefix,
    withRedis: app.withRedis,
  };
  const bulk: BulkDeps = { config, redis: app.redis, prefix, queue: app.bulkQueue, withRedis: app.withRedis };

  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/jobs/:id',
    {
      config: { scope: 'jobs' },
      schema: {
        params: JobParamsSchema,
        querystring: JobQuerySchema,
        // Bulk first: a bulk status would also match the narrower /rerank schema and lose its fields.
        response: { 200: Type.Union([BulkJobStatusSchema, JobStatusSchema]) },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (isBulkJobId(id)) return bulkJobStatus(bulk, await findBulkRecord(bulk, id));
      const topK = request.query.top_k === undefined ? undefined : Number(request.query.top_k);
      const status = await findJobStatus(deps, id, topK);
      if (!status) throw new ServiceError('JOB_NOT_FOUND');
      return status;
    },
  );
}
