/** POST /rerank: the seed's endpoint, answered from the queue (200 when done in time, else 202). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../../shared/config.ts';
import { JobAcceptedSchema, RerankResponseSchema, rerankRequestSchema } from '../../shared/schemas/rerank.ts';
import { parsePrefer, preferenceApplied } from '../prefer.ts';
import { rerank, rerankDeps } from '../services/rerank.ts';

/** Seconds a client should wait before polling a 202's status URL. */
const POLL_AFTER_SECONDS = '1';

export async function rerankRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = rerankDeps(app, config);
  const limits = { defaultWaitMs: config.SYNC_TIMEOUT_MS, maxWaitMs: config.MAX_SYNC_WAIT_MS };

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/rerank',
    {
      schema: {
        body: rerankRequestSchema(config.MAX_DOCUMENTS),
        response: { 200: RerankResponseSchema, 202: JobAcceptedSchema },
      },
    },
    async (request, reply) => {
      const plan = parsePrefer(request.headers.prefer, limits);
      const outcome = await rerank(deps, request.body, plan.waitMs);
      const applied = preferenceApplied(plan, outcome.kind === 'accepted');
      if (applied) reply.header('Preference-Applied', applied);
      if (outcome.kind === 'done') return reply.code(200).send(outcome.body);
      return reply
        .code(202)
        .header('Location', outcome.body.status_url)
        .header('Retry-After', POLL_AFTER_SECONDS)
        .send(outcome.body);
    },
  );
}
