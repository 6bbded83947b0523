/**
 * The API's check of a bulk job's callback_url, before the job is accepted: a clear 400 saying why it is refused
 * (no webhooks configured, not http(s), credentials in it, host not allowed). See shared/webhook-url.ts.
 */
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { callbackUrlProblem } from '../../shared/webhook-url.ts';

/** Returns the URL as it will be called (normalised by the URL parser); throws a 400 ServiceError otherwise. */
export function checkCallbackUrl(url: string, config: Pick<Config, 'WEBHOOK_ALLOWED_HOSTS'>): string {
  const problem = callbackUrlProblem(url, config.WEBHOOK_ALLOWED_HOSTS);
  if (problem) throw new ServiceError(problem.code, problem.message, { field: 'callback_url' });
  return new URL(url).href;
}
