/**
 * Bulk jobs: POST /jobs (always 202), GET /jobs/:id/result (pages) and DELETE /jobs/:id (cancel or delete).
 * GET /jobs/:id of either kind of job is in jobs.ts.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import {
  BulkAcceptedSchema,
  BulkJobStatusSchema,
  ResultPageSchema,
  ResultQuerySchema,
  bulkBodySchema,
  isBulkJobId,
  type BulkBody,
} from '../../shared/schemas/bulk.ts';
import { JobParamsSchema } from '../../shared/schemas/rerank.ts';
import { ownerOf, seesWorkerIds } from '../auth/owner.ts';
import { cancelBulkJob } from '../services/bulk/cancel.ts';
import { withoutWorkerIds } from '../services/bulk/public-view.ts';
import { readNdjsonBody } from '../services/bulk/ndjson.ts';
import { bulkDeps, checkIdempotencyKey, submitBulk } from '../services/bulk/submit.ts';
import { bulkJobStatus, bulkResultPage, findBulkRecord, pageBounds } from '../services/bulk/view.ts';
import { resolveJobToken } from '../services/job-tokens.ts';
import { completedScores, findJob, jobsDeps } from '../services/jobs.ts';
import { rankScores } from '../services/rankings.ts';

const NDJSON = 'application/x-ndjson';

/** Seconds a client should wait before polling a bulk job: they take seconds to minutes. */
const POLL_AFTER_SECONDS = '2';

export async function bulkRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = bulkDeps(app, config);
  const jobs = jobsDeps(app, config);
  const limits = {
    maxBulkDocuments: config.MAX_BULK_DOCUMENTS,
    maxRequests: config.MAX_BULK_REQUESTS,
    maxDocuments: config.MAX_DOCUMENTS,
  };
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // NDJSON bodies reach the handler as the raw stream, read line by line there (services/bulk/ndjson.ts). This
  // plugin is encapsulated: the parser serves these routes only.
  app.addContentTypeParser(NDJSON, (_request, payload, done) => done(null, payload));
  const ndjsonLimits = { maxBytes: config.MAX_BULK_BODY_BYTES, maxDocuments: config.MAX_BULK_DOCUMENTS };

  typed.post(
    '/jobs',
    {
      config: { scope: 'rerank' },
      bodyLimit: config.MAX_BULK_BODY_BYTES,
      schema: {
        body: { content: { 'application/json': { schema: bulkBodySchema(limits) }, [NDJSON]: { schema: {} } } },
        response: { 202: BulkAcceptedSchema },
      },
    },
    async (request, reply) => {
      const key = checkIdempotencyKey(request.headers['idempotency-key']);
      const body = request.body instanceof Readable ? await readNdjsonBody(request.body, ndjsonLimits) : request.body;
      const accepted = await submitBulk(deps, body as BulkBody, key, ownerOf(request));
      return reply
        .code(202)
        .header('Location', accepted.status_url)
        .header('Retry-After', POLL_AFTER_SECONDS)
        .send(accepted);
    },
  );

  typed.get(
    '/jobs/:id/result',
    {
      config: { scope: 'jobs' },
      schema: { params: JobParamsSchema, querystring: ResultQuerySchema, response: { 200: ResultPageSchema } },
    },
    async (request) => {
      const { id } = request.params;
      const owner = ownerOf(request);
      const page = {
        offset: request.query.offset === undefined ? undefined : Number(request.query.offset),
        limit: request.query.limit === undefined ? undefined : Number(request.query.limit),
      };
      if (isBulkJobId(id)) return bulkResultPage(deps, await findBulkRecord(deps, id, owner), page);
      // A /rerank 202's job, by its token: the ranking paged the same way.
      const { jobId, topK } = await resolveJobToken(jobs, id, owner);
      const found = await jobs.withRedis(() => findJob(jobs, jobId));
      if (!found) throw new ServiceError('JOB_NOT_FOUND');
      if (found.state !== 'completed') throw new ServiceError('RESULT_NOT_READY');
      const scores = await completedScores(jobs, jobId);
      if (!scores) throw new ServiceError('JOB_NOT_FOUND');
      // The request's own top_k, as GET /jobs/:id applies it (requests differing only in top_k share one job).
      const { rankings, top_k_applied } = rankScores(scores, topK);
      const { end, ...bounds } = pageBounds('query', rankings.length, page);
      return { job_id: id, ...bounds, total: rankings.length, rankings: rankings.slice(bounds.offset, end), top_k_applied };
    },
  );

  typed.delete(
    '/jobs/:id',
    {
      config: { scope: 'jobs' },
      schema: { params: JobParamsSchema, response: { 200: BulkJobStatusSchema, 204: Type.Null() } },
    },
    async (request, reply) => {
      const { id } = request.params;
      const owner = ownerOf(request);
      if (!isBulkJobId(id)) {
        const { jobId } = await resolveJobToken(jobs, id, owner);
        const found = await jobs.withRedis(() => findJob(jobs, jobId));
        throw new ServiceError(found ? 'JOB_NOT_CANCELLABLE' : 'JOB_NOT_FOUND');
      }
      const outcome = await cancelBulkJob({ ...deps, webhookQueue: app.webhookQueue }, await findBulkRecord(deps, id, owner));
      if (outcome === 'deleted') return reply.code(204).send(null);
      const status = await bulkJobStatus(deps, await findBulkRecord(deps, id, owner));
      return seesWorkerIds(request) ? status : withoutWorkerIds(status);
    },
  );
}
