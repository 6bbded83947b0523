/** POST /rerank: the seed's endpoint, answered from the queue (200 when done in time, else 202). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../../shared/config.ts';
import { JobAcceptedSchema, RerankResponseSchema, rerankRequestSchema } from '../../shared/schemas/rerank.ts';
import { ownerOf } from '../auth/owner.ts';
import { parsePrefer, preferenceApplied } from '../prefer.ts';
import { createJobToken } from '../services/job-tokens.ts';
import { rerank, rerankDeps } from '../services/rerank.ts';
import { depsForModel } from '../services/served-models.ts';
import { roundedTimings, timingHeaders } from '../timings.ts';

/** Seconds a client should wait before polling a 202's status URL. */
const POLL_AFTER_SECONDS = '1';

export async function rerankRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = rerankDeps(app, config);
  const limits = { defaultWaitMs: config.SYNC_TIMEOUT_MS, maxWaitMs: config.MAX_SYNC_WAIT_MS };

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/rerank',
    {
      config: { scope: 'rerank' },
      schema: {
        body: rerankRequestSchema(config.MAX_DOCUMENTS),
        response: { 200: RerankResponseSchema, 202: JobAcceptedSchema },
      },
    },
    async (request, reply) => {
      const plan = parsePrefer(request.headers.prefer, limits);
      // The wait counts from the request's arrival: under a burst, time spent queued behind other requests (body,
      // parsing, validation) is part of it, or the 202 comes late. Nothing left: answer at once.
      const waitMs = plan.waitMs === 0 ? 0 : Math.max(0, Math.round(plan.waitMs - reply.elapsedTime));
      const owner = ownerOf(request);
      const modelDeps = await depsForModel(deps, app.servedModels, request.body.model);
      const outcome = await rerank(modelDeps, request.body, waitMs, owner);
      // The request's log line (plugins/request-log.ts) names the job it ran or joined, and its stage timings.
      const { jobId, timings } = outcome;
      request.log = request.log.child({ jobId, ...(timings && roundedTimings(timings)) });
      if (timings) reply.headers(timingHeaders(timings));
      const applied = preferenceApplied(plan, outcome.kind === 'accepted');
      if (applied) reply.header('Preference-Applied', applied);
      if (outcome.kind === 'done') return reply.code(200).send(outcome.body);
      // Each 202 gets a token of its own, never the job's content-hash id (services/job-tokens.ts).
      const token = await createJobToken(deps, { jobId, owner, topK: request.body.top_k });
      request.log = request.log.child({ jobToken: token });
      const statusUrl = `/jobs/${token}`;
      return reply
        .code(202)
        .header('Location', statusUrl)
        .header('Retry-After', POLL_AFTER_SECONDS)
        .send({ job_id: token, status: outcome.status, status_url: statusUrl });
    },
  );
}
