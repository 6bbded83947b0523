/**
 * The JSON body parser: parses the body chunk by chunk as it arrives (@streamparser/json), instead of decoding and
 * parsing it whole at the end. For a 16 MB body the whole-body way (Fastify's string parser, then JSON.parse) was
 * a 16 MB Buffer.concat, a 16 MB string and JSON.parse over it, with the garbage collections they set off: one
 * ~150 ms stretch in which the event loop served nothing else, /health included. Chunk by chunk, no step takes
 * more than a few milliseconds. The result is JSON.parse's (`__proto__` stays an own key; test/unit/json-body.test.ts
 * compares the two). Limits and errors are Fastify's: a body over the route's limit is FST_ERR_CTP_BODY_TOO_LARGE
 * (413), one shorter or longer than its Content-Length FST_ERR_CTP_INVALID_CONTENT_LENGTH (400), and a stream
 * error (body-guard.ts's refusals) goes through as it is.
 */
import type { Readable } from 'node:stream';
import { JSONParser } from '@streamparser/json';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { Config } from '../shared/config.ts';
import { ServiceError } from '../shared/errors.ts';
import { routeBodyLimit } from './plugins/body-guard.ts';

type Done = (error: Error | null, value?: unknown) => void;

const invalidJson = (error: unknown) =>
  new ServiceError('INVALID_JSON', undefined, { reason: (error as Error).message });
const EMPTY_BODY = 'The request body is empty.';

/** One JSON text fed in pieces; `value()` is the parsed value, or throws INVALID_JSON. */
export class IncrementalJson {
  private readonly parser = new JSONParser({ paths: ['$'] });
  private root: { value: unknown } | undefined;

  constructor() {
    this.parser.onValue = ({ value }) => {
      this.root = { value };
    };
  }

  /** Throws INVALID_JSON as soon as the text cannot be JSON. */
  write(chunk: Buffer | string): void {
    try {
      this.parser.write(chunk);
    } catch (error) {
      throw invalidJson(error);
    }
  }

  value(): unknown {
    if (!this.parser.isEnded) {
      try {
        this.parser.end();
      } catch (error) {
        // Nothing but whitespace (or nothing at all) is an empty body; anything else was cut short.
        if (this.root === undefined && this.parser.isEnded) throw new ServiceError('INVALID_JSON', EMPTY_BODY);
        throw invalidJson(error);
      }
    }
    if (!this.root) throw new ServiceError('INVALID_JSON', EMPTY_BODY);
    return this.root.value;
  }
}

/**
 * The parser for `application/json`. A declared Content-Length over the route's limit never gets here (body-guard.ts
 * refuses it before the body is read); a chunked body is counted as it streams.
 */
export function jsonBodyParser(config: Pick<Config, 'MAX_BODY_BYTES'>) {
  return (request: FastifyRequest, payload: Readable, done: Done): void => {
    const limit = routeBodyLimit(request, config);
    const declared = Number(request.headers['content-length']);
    const json = new IncrementalJson();
    let received = 0;
    // Invalid JSON is answered once the body is in (as body-guard.ts does): a client cut off in the middle of its
    // upload may see a broken pipe instead of the 400.
    let invalid: Error | undefined;

    const finish = (error: Error | null, value?: unknown) => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      done(error, value);
    };
    const onData = (chunk: Buffer | string) => {
      received += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (received > limit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      if (invalid) return;
      try {
        json.write(chunk);
      } catch (error) {
        invalid = error as Error;
      }
    };
    const onEnd = () => {
      if (!Number.isNaN(declared) && received !== declared) {
        return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      }
      if (invalid) return finish(invalid);
      try {
        finish(null, json.value());
      } catch (error) {
        finish(error as Error);
      }
    };
    const onError = (error: Error & { statusCode?: number }) => {
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
      finish(error);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  };
}
