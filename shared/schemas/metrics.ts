/** GET /metrics' query: `?format=json|prometheus` overrides the Accept header. */
import { Type, type Static } from '@sinclair/typebox';

export const METRICS_FORMATS = ['json', 'prometheus'] as const;

export const MetricsQuerySchema = Type.Object({
  // A plain enum (not a union of literals) so a bad value reads "must be equal to one of the allowed values".
  format: Type.Optional(Type.Unsafe<(typeof METRICS_FORMATS)[number]>({ type: 'string', enum: [...METRICS_FORMATS] })),
});

export type MetricsQuery = Static<typeof MetricsQuerySchema>;
export type MetricsFormat = NonNullable<MetricsQuery['format']>;
