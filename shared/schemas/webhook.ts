/**
 * Webhooks of bulk jobs: the body POSTed to a callback_url, and the delivery outcome GET /jobs/:id reports as
 * `webhook`. TypeScript types are derived from these schemas.
 */
import { Type, type Static } from '@sinclair/typebox';

export const WebhookJobStatusValues = ['completed', 'failed', 'cancelled'] as const;

/** What the receiver gets, signed (see docs/api.md, "Webhooks"). */
export const WebhookPayloadSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Union(WebhookJobStatusValues.map((value) => Type.Literal(value))),
  finished_at: Type.String({ description: 'ISO 8601 time the job ended.' }),
});

export type WebhookPayload = Static<typeof WebhookPayloadSchema>;

export const WebhookStateValues = ['pending', 'delivered', 'failed'] as const;

/** pending: queued or between retries; delivered: a 2xx answer; failed: attempts used up or not retryable. */
export const WebhookOutcomeSchema = Type.Object({
  state: Type.Union(WebhookStateValues.map((value) => Type.Literal(value))),
  attempts: Type.Integer({ minimum: 0 }),
  last_status: Type.Optional(Type.Integer({ description: "HTTP status of the last attempt's answer." })),
  last_error: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
  delivered_at: Type.Optional(Type.String()),
});

export type WebhookOutcome = Static<typeof WebhookOutcomeSchema>;
