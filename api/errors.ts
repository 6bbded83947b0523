/**
 * The one place where whatever went wrong in a request becomes a catalogue error: Fastify's own errors
 * (content-type, body size, bad URL), schema validation failures, and our ServiceErrors.
 */
import type { FastifyError, FastifySchemaValidationError } from 'fastify';
import { ServiceError } from '../shared/errors.ts';

type ValidationContext = FastifyError['validationContext'];

/** What the request was refused against, for the error's details (e.g. the body limit of a 413). */
export interface RequestLimits {
  bodyLimit?: number;
}

export function toServiceError(error: unknown, limits: RequestLimits = {}): ServiceError {
  if (error instanceof ServiceError) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) return fromValidation(fastifyError.validationContext, fastifyError.validation);
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return payloadTooLarge(limits.bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServiceError('UNSUPPORTED_MEDIA_TYPE');
  }
  const status = fastifyError.statusCode ?? 500;
  if (status === 413) return payloadTooLarge(limits.bodyLimit);
  if (status === 415) return new ServiceError('UNSUPPORTED_MEDIA_TYPE');
  // Anything else Fastify refuses before our code runs (bad URL encoding, bad Content-Length, aborted body) was
  // the client's doing: keep it a 400 rather than let it look like our fault.
  if (status >= 400 && status < 500) return new ServiceError('BAD_REQUEST', fastifyError.message);
  return new ServiceError('INTERNAL_ERROR');
}

/** Like TOO_MANY_DOCUMENTS, a 413 says the limit (bytes) so that a client can split its request. */
export function payloadTooLarge(limit: number | undefined): ServiceError {
  if (limit === undefined) return new ServiceError('PAYLOAD_TOO_LARGE');
  return new ServiceError('PAYLOAD_TOO_LARGE', `The request body is larger than the limit of ${limit} bytes.`, { limit });
}

/** Maps the first schema violation to the most specific code a client can act on. */
export function fromValidation(
  context: ValidationContext,
  errors: readonly FastifySchemaValidationError[],
): ServiceError {
  if (context === 'params') return new ServiceError('INVALID_JOB_ID');
  const inRequest = errors[0]?.instancePath.match(/^\/requests\/(\d+)(\/.*)?$/);
  if (inRequest) return fromRequestValidation(context, errors[0]!, Number(inRequest[1]), inRequest[2] ?? '');
  if (errors[0]?.instancePath === '/requests') return fromRequestsValidation(errors[0]);
  const unknown = errors.find((error) => error.keyword === 'additionalProperties');
  if (unknown) {
    const field = `${unknown.instancePath.slice(1).replaceAll('/', '.')}${unknown.instancePath ? '.' : ''}${String(
      unknown.params.additionalProperty,
    )}`;
    return new ServiceError('UNKNOWN_FIELD', `Unknown field "${field}".`, { field });
  }
  const first = errors[0];
  if (!first) return new ServiceError('VALIDATION_FAILED');
  const path = first.instancePath;
  if (path === '' && first.keyword === 'required') {
    if (first.params.missingProperty === 'query') return new ServiceError('EMPTY_QUERY', 'query is required.');
    if (first.params.missingProperty === 'documents') return new ServiceError('NO_DOCUMENTS', 'documents is required.');
  }
  if (path === '') return new ServiceError('VALIDATION_FAILED', `The ${context ?? 'request'} must be a JSON object.`);
  if (path === '/query') return new ServiceError('EMPTY_QUERY');
  if (path === '/top_k') return new ServiceError('INVALID_TOP_K');
  if (path === '/documents') {
    if (first.keyword === 'minItems') return new ServiceError('NO_DOCUMENTS');
    if (first.keyword === 'maxItems') {
      const limit = Number(first.params.limit);
      return new ServiceError('TOO_MANY_DOCUMENTS', `At most ${limit} documents per request.`, { limit });
    }
    return new ServiceError('VALIDATION_FAILED', 'documents must be an array.', { field: 'documents' });
  }
  const document = path.match(/^\/documents\/(\d+)/);
  if (document) return new ServiceError('INVALID_DOCUMENT', undefined, { index: Number(document[1]) });
  const field = path.slice(1).replaceAll('/', '.');
  return new ServiceError('VALIDATION_FAILED', `${field} ${first.message ?? 'is invalid'}.`, { field });
}

/** A bad request inside a bulk job of many requests (POST /jobs form 2): the same code, naming the request. */
function fromRequestValidation(
  context: ValidationContext,
  error: FastifySchemaValidationError,
  request: number,
  rest: string,
): ServiceError {
  const inner = fromValidation(context, [{ ...error, instancePath: rest }]);
  const details = { ...(inner.details as Record<string, unknown> | undefined), request };
  return new ServiceError(inner.code, `requests[${request}]: ${inner.message}`, details);
}

function fromRequestsValidation(error: FastifySchemaValidationError): ServiceError {
  if (error.keyword === 'minItems') return new ServiceError('NO_REQUESTS');
  if (error.keyword === 'maxItems') {
    const limit = Number(error.params.limit);
    return new ServiceError('TOO_MANY_REQUESTS_IN_JOB', `At most ${limit} requests per bulk job.`, { limit });
  }
  return new ServiceError('VALIDATION_FAILED', 'requests must be an array.', { field: 'requests' });
}
