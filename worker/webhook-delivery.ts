/**
 * One webhook attempt: POST the JSON body to the callback URL, signed, within a timeout, never following a
 * redirect. The signature is Stripe-like (docs/api.md, "Webhooks"):
 *
 *   X-Rerank-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under WEBHOOK_SECRET>
 *
 * The timestamp is part of what is signed, so a receiver can refuse replays of old notifications.
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-rerank-signature';
const USER_AGENT = 'rerank-queue-webhooks/1';

export function signatureHeader(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export interface WebhookPost {
  url: string;
  /** Sent exactly as signed. */
  body: string;
  secret: string;
  timeoutMs: number;
}

/** ok: a 2xx answer. Otherwise why not, and whether another attempt may succeed. */
export type AttemptResult =
  | { ok: true; status: number }
  | { ok: false; retryable: boolean; status?: number; error: string };

/** Network trouble, timeouts, redirects (never followed), 429 and 5xx are worth retrying; other 4xx are not. */
function classify(status: number): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400) {
    return { ok: false, retryable: true, status, error: `redirect (${status}) not followed` };
  }
  const retryable = status === 429 || status >= 500;
  return { ok: false, retryable, status, error: `the receiver answered ${status}` };
}

function networkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return `connection failed (${cause.code})`;
  return `connection failed (${error instanceof Error ? error.message : String(error)})`;
}

export async function postWebhook(post: WebhookPost): Promise<AttemptResult> {
  const timestamp = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(post.url, {
      method: 'POST',
      body: post.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        [SIGNATURE_HEADER]: signatureHeader(post.secret, post.body, timestamp),
      },
      redirect: 'manual',
      signal: AbortSignal.timeout(post.timeoutMs),
    });
  } catch (error) {
    return { ok: false, retryable: true, error: networkError(error, post.timeoutMs) };
  }
  // The answer's body is of no interest; dropping it frees the connection.
  await response.body?.cancel().catch(() => undefined);
  return classify(response.status);
}
