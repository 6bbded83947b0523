/**
 * Bounded cost per request body, enforced while the bytes arrive rather than after: Content-Encoding is refused
 * (415), bodies beyond MAX_INFLIGHT_BODY_BYTES held at once get 503 + Retry-After before they are read, and JSON
 * nested deeper than MAX_JSON_DEPTH is refused (400) as soon as the scanner sees it, before JSON.parse runs.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { payloadTooLarge } from '../errors.ts';
import { BodyBudget } from '../guards/body-budget.ts';
import { JsonDepthScanner } from '../guards/json-depth.ts';

declare module 'fastify' {
  interface FastifyInstance {
    bodyBudget: BodyBudget;
  }
}

/** The body limit of the request's route: a route may raise its own (bulk jobs); unknown routes have the app's. */
export function routeBodyLimit(request: FastifyRequest, config: Pick<Config, 'MAX_BODY_BYTES'>): number {
  return request.routeOptions.bodyLimit ?? config.MAX_BODY_BYTES;
}

const isJson = (contentType: string | undefined) =>
  (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'application/json';

/** Releases what a request reserved, once, when its response is over (sent, failed or the client gone). */
function holdUntilResponseEnds(budget: BodyBudget, reply: FastifyReply): (bytes: number) => void {
  let held = 0;
  reply.raw.once('close', () => budget.release(held));
  return (bytes) => {
    held += bytes;
  };
}

/**
 * Passes the body through unchanged, reserving chunked bytes and scanning JSON depth on the way. Once it refuses
 * the body, it reads the rest without keeping it (up to maxDiscard bytes) and fails at the end: the client gets
 * its answer after sending, instead of a connection reset in the middle of its upload.
 */
class GuardedBody extends Transform {
  private refusal: ServiceError | undefined;
  private discarded = 0;

  constructor(
    private readonly reserve: ((bytes: number) => boolean) | undefined,
    private readonly scanner: JsonDepthScanner | undefined,
    private readonly maxDiscard: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.refusal) {
      if (this.reserve && !this.reserve(chunk.length)) this.refusal = new ServiceError('SERVER_BUSY');
      else if (this.scanner && !this.scanner.push(chunk)) this.refusal = new ServiceError('NESTING_TOO_DEEP');
      else return callback(null, chunk);
    }
    this.discarded += chunk.length;
    callback(this.discarded > this.maxDiscard ? this.refusal : null);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.refusal ?? null);
  }
}

export const bodyGuardPlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const bodyLimit = (request: FastifyRequest) => routeBodyLimit(request, config);
    const budget = new BodyBudget(config.MAX_INFLIGHT_BODY_BYTES);
    app.decorate('bodyBudget', budget);

    // A client that asks `Expect: 100-continue` (curl does for bodies over 1 MB) is told to send its body only once
    // the checks below have passed; a refusal reaches it before it uploads. Node would otherwise say 100 Continue at
    // once, and a client still uploading when the 413 comes may see only a broken pipe.
    app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));

    app.addHook('onRequest', async (request, reply) => {
      const encoding = request.headers['content-encoding']?.trim().toLowerCase();
      if (encoding && encoding !== 'identity') throw new ServiceError('UNSUPPORTED_CONTENT_ENCODING');
      const declared = Number(request.headers['content-length'] ?? 0);
      if (Number.isSafeInteger(declared) && declared > 0) {
        // Larger than the route's body limit: refused before it is read, whatever parser the route uses (Fastify
        // checks Content-Length itself only for its string and buffer parsers, not for a stream one like NDJSON's).
        if (declared > bodyLimit(request)) throw payloadTooLarge(bodyLimit(request));
        if (!budget.tryReserve(declared)) throw new ServiceError('SERVER_BUSY', undefined, { limit: budget.limit });
        holdUntilResponseEnds(budget, reply)(declared);
      }
      if (request.headers.expect?.toLowerCase() === '100-continue') reply.raw.writeContinue();
    });

    app.addHook('preParsing', async (request, reply, payload) => {
      const { 'content-length': length, 'transfer-encoding': transfer } = request.headers;
      if (length === undefined && transfer === undefined) return payload; // no body
      const chunked = length === undefined;
      const scanner = isJson(request.headers['content-type']) ? new JsonDepthScanner(config.MAX_JSON_DEPTH) : undefined;
      if (!chunked && !scanner) return payload;
      let reserve: ((bytes: number) => boolean) | undefined;
      if (chunked) {
        const hold = holdUntilResponseEnds(budget, reply);
        reserve = (bytes) => {
          if (!budget.tryReserve(bytes)) return false;
          hold(bytes);
          return true;
        };
      }
      // Fastify reads the body from the returned stream; an error from it becomes the request's error. pipe, not
      // pipeline, which would destroy the request (and the socket the answer needs) on our error.
      const guarded = new GuardedBody(reserve, scanner, bodyLimit(request));
      payload.on('error', (error) => guarded.destroy(error));
      return payload.pipe(guarded);
    });
  },
  { name: 'body-guard' },
);
