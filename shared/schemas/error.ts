/** The native error body, {"error": {code, message, details?}}, as a schema: OpenAPI documents it for every route. */
import { Type, type Static } from '@sinclair/typebox';
import { ERRORS, type ErrorCode } from '../errors.ts';

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union((Object.keys(ERRORS) as ErrorCode[]).map((code) => Type.Literal(code)), {
        description: 'A code from the catalogue (docs/api.md, "Errors").',
      }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown({ description: 'Only on 4xx, e.g. {"field"} or {"limit"}.' })),
    }),
  },
  {
    description: 'An error from the catalogue',
    examples: [{ error: { code: 'UNKNOWN_FIELD', message: 'Unknown field "topk".', details: { field: 'topk' } } }],
  },
);

export type ErrorBody = Static<typeof ErrorBodySchema>;
