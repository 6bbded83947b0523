/**
 * Answers for what Node's HTTP parser refuses before Fastify sees a request (Fastify's clientErrorHandler):
 * malformed HTTP (400), headers or request line too large (431), a request not received within
 * REQUEST_TIMEOUT_MS (408). Written raw on the socket in our envelope, then the connection is closed.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { ServiceError, errorBody } from '../shared/errors.ts';

function errorFor(code: string | undefined): ServiceError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ServiceError('REQUEST_TIMEOUT');
  if (code === 'HPE_HEADER_OVERFLOW') return new ServiceError('HEADERS_TOO_LARGE');
  return new ServiceError('BAD_REQUEST', 'The request is not valid HTTP/1.1.');
}

export function writeClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already under way (headers sent) cannot be replaced; just end the connection.
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inProgress?.headersSent) {
    const serviceError = errorFor(error.code);
    const body = JSON.stringify(errorBody(serviceError));
    socket.write(
      `HTTP/1.1 ${serviceError.status} ${STATUS_CODES[serviceError.status]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Node checks request deadlines only every connectionsCheckingInterval (30 s by default): check often enough for
 * the timeout to hold, and keep the headers deadline within the request's (Node requires it).
 */
export function requestTimeouts(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(requestTimeoutMs, 60_000),
    connectionsCheckingInterval: Math.min(Math.max(Math.floor(requestTimeoutMs / 10), 100), 1_000),
  };
}
