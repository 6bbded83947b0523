/**
 * POST /v1/rerank (Cohere v1 and Jina) and POST /v2/rerank (Cohere v2): the native service through the Cohere
 * adapter, synchronous only, errors as {message}. Encapsulated, so the error handler is these routes' alone.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../../shared/config.ts';
import {
  CohereErrorSchema,
  CohereV1ResponseSchema,
  CohereV2ResponseSchema,
  cohereV1RequestSchema,
  cohereV2RequestSchema,
} from '../../shared/schemas/cohere.ts';
import { ownerOf } from '../auth/owner.ts';
import { cohereErrorBody, fromCohereV1, fromCohereV2, toCohereResponse } from '../compat/cohere.ts';
import { dialectErrorHandler } from '../compat/errors.ts';
import { rerankSync } from '../compat/sync.ts';
import { rerankDeps } from '../services/rerank.ts';
import { COMPAT_ROUTE_CONFIG, errorResponses } from './compat-shared.ts';

export async function cohereRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = rerankDeps(app, config);
  const errors = errorResponses(CohereErrorSchema);
  app.setErrorHandler(dialectErrorHandler({ body: cohereErrorBody }));
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/v1/rerank',
    {
      config: COMPAT_ROUTE_CONFIG,
      schema: {
        summary: 'Rerank (Cohere v1, Jina)',
        tags: ['compatibility'],
        body: cohereV1RequestSchema(config.MAX_DOCUMENTS),
        response: { 200: CohereV1ResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { documents, return_documents: echo } = request.body;
      const ranked = await rerankSync(deps, app.servedModels, fromCohereV1(request.body), ownerOf(request));
      const answer = { version: '1', documentCount: documents.length } as const;
      return toCohereResponse(ranked, echo ? { ...answer, echo: documents } : answer);
    },
  );

  typed.post(
    '/v2/rerank',
    {
      config: COMPAT_ROUTE_CONFIG,
      schema: {
        summary: 'Rerank (Cohere v2)',
        tags: ['compatibility'],
        body: cohereV2RequestSchema(config.MAX_DOCUMENTS),
        response: { 200: CohereV2ResponseSchema, ...errors },
      },
    },
    async (request) => {
      const ranked = await rerankSync(deps, app.servedModels, fromCohereV2(request.body), ownerOf(request));
      const documentCount = request.body.documents.length;
      return toCohereResponse(ranked, { version: '2', documentCount });
    },
  );
}
