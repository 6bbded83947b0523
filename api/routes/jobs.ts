/**
 * GET /jobs/:id: where a job is, and its result once done, for the key that created it only. A /rerank 202's
 * token (rq-) shows its job ranked with the request's top_k (or the URL's); bulk jobs (bj-) report progress and
 * the first page of their result (routes/bulk.ts has the rest).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { BulkJobStatusSchema, isBulkJobId } from '../../shared/schemas/bulk.ts';
import { JobParamsSchema, JobQuerySchema, JobStatusSchema } from '../../shared/schemas/rerank.ts';
import { ownerOf, seesWorkerIds } from '../auth/owner.ts';
import { withoutWorkerIds } from '../services/bulk/public-view.ts';
import { bulkJobStatus, findBulkRecord } from '../services/bulk/view.ts';
import { bulkDeps } from '../services/bulk/submit.ts';
import { resolveJobToken } from '../services/job-tokens.ts';
import { findJobStatus, jobsDeps } from '../services/jobs.ts';

export async function jobRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = jobsDeps(app, config);
  const bulk = bulkDeps(app, config);

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
      const owner = ownerOf(request);
      if (isBulkJobId(id)) {
        const status = await bulkJobStatus(bulk, await findBulkRecord(bulk, id, owner));
        return seesWorkerIds(request) ? status : withoutWorkerIds(status);
      }
      const target = await resolveJobToken(deps, id, owner);
      const topK = request.query.top_k === undefined ? target.topK : Number(request.query.top_k);
      const status = await findJobStatus(deps, target.jobId, topK);
      if (!status) throw new ServiceError('JOB_NOT_FOUND');
      // The client knows the job by its token only: the content-hash id stays internal.
      return { ...status, job_id: id };
    },
  );
}
