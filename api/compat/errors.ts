/**
 * Errors on the compatibility routes: the same catalogue errors and statuses as the native routes (toServiceError),
 * in each dialect's body. Each dialect gives one function from ServiceError to its body; this module does the rest.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, exposesMessage, type ServiceError } from '../../shared/errors.ts';
import { toServiceError } from '../errors.ts';

/** Statuses a retry can cure; the Cohere SDK retries them and honours Retry-After. */
const RETRY_AFTER_SECONDS: Partial<Record<number, string>> = { 429: '1', 503: '1', 504: '1' };

const QUIET_CODES = new Set<ServiceError['code']>(['REDIS_UNAVAILABLE', 'SYNC_TIMEOUT']);

export interface DialectErrors {
  body(error: ServiceError, message: string): unknown;
  /** Request fields named differently from the native route's, e.g. TEI's texts for documents. */
  fieldAliases?: Record<string, string>;
}

/** The client-facing message, as the native routes give it (errorBody): a 5xx keeps the catalogue's. */
function publicMessage(error: ServiceError): string {
  return exposesMessage(error.code) ? error.message : ERRORS[error.code].message;
}

export function dialectErrorHandler(dialect: DialectErrors) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const serviceError = toServiceError(withNativeFieldNames(error, dialect.fieldAliases ?? {}));
    // An outage of Redis is logged once by the redis plugin, not once per request.
    // Nor is a sync wait running out: the job carries on, and the client retries into it.
    if (serviceError.status >= 500 && !QUIET_CODES.has(serviceError.code)) {
      request.log.error({ err: error, code: serviceError.code }, 'request failed');
    }
    const retryAfter = RETRY_AFTER_SECONDS[serviceError.status];
    if (retryAfter) reply.header('Retry-After', retryAfter);
    return reply.code(serviceError.status).send(dialect.body(serviceError, publicMessage(serviceError)));
  };
}

/** Renames aliased fields in schema-validation paths so the native mapping picks the same specific code. */
function withNativeFieldNames(error: unknown, aliases: Record<string, string>): unknown {
  const { validation, validationContext } = error as Partial<FastifyError>;
  if (!validation) return error;
  const renamed = validation.map((issue) => {
    const [, field = '', rest = ''] = issue.instancePath.match(/^\/([^/]+)(.*)$/) ?? [];
    const alias = aliases[field];
    return alias === undefined ? issue : { ...issue, instancePath: `/${alias}${rest}` };
  });
  return { validation: renamed, validationContext };
}
