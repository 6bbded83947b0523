/**
 * Hugging Face TEI under /tei (a TEI client's base URL is http://host/tei): POST /tei/rerank through the TEI
 * adapter, synchronous only, errors as {error, error_type}; GET /tei/info. Encapsulated, so the error handler is
 * these routes' alone.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../../shared/config.ts';
import {
  TeiErrorSchema,
  TeiInfoSchema,
  TeiRerankResponseSchema,
  teiRerankRequestSchema,
} from '../../shared/schemas/tei.ts';
import { ownerOf } from '../auth/owner.ts';
import { dialectErrorHandler } from '../compat/errors.ts';
import { rerankSync } from '../compat/sync.ts';
import { fromTei, teiErrorBody, teiInfo, toTeiResponse } from '../compat/tei.ts';
import { rerankDeps } from '../services/rerank.ts';
import { COMPAT_GET_ERROR_STATUSES, COMPAT_ROUTE_CONFIG, errorResponses } from './compat-shared.ts';

export async function teiRoutes(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const deps = rerankDeps(app, config);
  const info = teiInfo(config);
  const errors = errorResponses(TeiErrorSchema);
  app.setErrorHandler(dialectErrorHandler({ body: teiErrorBody, fieldAliases: { texts: 'documents' } }));
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/tei/rerank',
    {
      config: COMPAT_ROUTE_CONFIG,
      schema: {
        summary: 'Rerank (Hugging Face TEI)',
        tags: ['compatibility'],
        body: teiRerankRequestSchema(config.MAX_DOCUMENTS),
        response: { 200: TeiRerankResponseSchema, ...errors },
      },
    },
    async (request) =>
      toTeiResponse(await rerankSync(deps, app.servedModels, fromTei(request.body), ownerOf(request)), request.body),
  );

  typed.get(
    '/tei/info',
    {
      config: COMPAT_ROUTE_CONFIG,
      schema: {
        summary: 'Served model info (Hugging Face TEI)',
        tags: ['compatibility'],
        response: { 200: TeiInfoSchema, ...errorResponses(TeiErrorSchema, COMPAT_GET_ERROR_STATUSES) },
      },
    },
    async () => info,
  );
}
