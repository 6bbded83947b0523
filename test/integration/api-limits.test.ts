/**
 * Bounded cost per request, over raw TCP against an in-process app (shared Redis, unique prefix): the in-flight
 * body budget (503 before reading, released when the answer is sent), nesting refused while the body arrives,
 * Content-Encoding 415, 405 + Allow, and Node's own refusals (400 framing, 431, 408 after REQUEST_TIMEOUT_MS with
 * the connection closed) in the catalogue's envelope.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { loadConfig } from '../../shared/config.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { httpRequest, parseResponse, rawRequest } from '../support/raw-http.ts';

const PREFIX = `test-api-limits-${randomUUID().slice(0, 8)}`;
let app: FastifyInstance;
let port: number;

before(async () => {
  const config = loadConfig({
    QUEUE_PREFIX: PREFIX,
    LOG_LEVEL: 'silent',
    MAX_BODY_BYTES: '4096',
    MAX_BULK_BODY_BYTES: '8192',
    MAX_INFLIGHT_BODY_BYTES: '6000',
    REQUEST_TIMEOUT_MS: '500',
  });
  app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

after(async () => {
  await app.close();
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', PREFIX);
});

const JSON_TYPE = 'Content-Type: application/json';
const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

test('a declared body over the route limit is a 413 with details.limit before it is read, NDJSON bulk bodies too', async () => {
  const cases: [string, string, number][] = [
    ['/rerank', JSON_TYPE, 4096],
    ['/jobs', JSON_TYPE, 8192],
    ['/jobs', 'Content-Type: application/x-ndjson', 8192],
  ];
  for (const [path, type, limit] of cases) {
    // Headers only: the answer must come without the body being sent.
    const response = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: x\r\n${type}\r\nContent-Length: ${limit + 1}\r\n\r\n`);
    assert.equal(response.status, 413, `${path} ${type}: ${response.body}`);
    const { error } = JSON.parse(response.body) as { error: { code: string; details: unknown } };
    assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(error.details, { limit });
  }
  // Chunked (no Content-Length): refused once the bytes read pass the limit, with the same details.
  const lines = [JSON.stringify({ query: 'q' }), ...Array.from({ length: 1_000 }, (_, i) => JSON.stringify(`document ${i}`))];
  const chunked = await fetch(`http://127.0.0.1:${port}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: new Blob([`${lines.join('\n')}\n`]).stream(),
    duplex: 'half',
  } as RequestInit);
  assert.equal(chunked.status, 413);
  assert.deepEqual(((await chunked.json()) as { error: { details: unknown } }).error.details, { limit: 8192 });
});

test('Expect: 100-continue: a refused body is answered before it is sent; an accepted one gets 100 Continue first', async () => {
  const expect = (path: string, length: number) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`;
  const refused = await rawRequest(port, expect('/rerank', 5_000));
  assert.equal(refused.status, 413, 'the final answer, not 100 Continue');
  assert.equal(codeOf(refused.body), 'PAYLOAD_TOO_LARGE');

  const body = JSON.stringify({ query: 'q', documents: ['a', 'b'] });
  const socket = connect(port, '127.0.0.1');
  let received = '';
  let sent = false;
  const answered = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !sent) {
        sent = true;
        socket.write(body);
      }
      if (/\r\n\r\n[\s\S]*HTTP\/1\.1 202 /.test(received)) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed; received: ${received}`)));
  });
  socket.write(expect('/rerank', Buffer.byteLength(body)).replace('\r\n\r\n', '\r\nPrefer: respond-async\r\n\r\n'));
  try {
    await answered;
  } finally {
    socket.destroy();
  }
  assert.match(received, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 /);
});

test('bodies beyond MAX_INFLIGHT_BODY_BYTES get 503 SERVER_BUSY before they are read; the budget comes back', async () => {
  // Holds 4,000 bytes: headers and a first piece sent, the rest withheld.
  const holder = connect(port, '127.0.0.1');
  holder.write(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nContent-Length: 4000\r\n\r\n{"query":`);
  const body = JSON.stringify({ query: 'q', documents: ['x'.repeat(2_500)] });
  const busy = await (async () => {
    for (;;) {
      const response = await rawRequest(port, httpRequest('POST', '/rerank', [JSON_TYPE, 'Prefer: respond-async'], body));
      if (response.status === 503) return response;
      assert.equal(response.status, 202, 'until the holder has reserved, requests pass');
    }
  })();
  assert.equal(codeOf(busy.body), 'SERVER_BUSY');
  assert.equal(busy.headers['retry-after'], '1');
  holder.destroy();
  // Released when the held request's connection is gone.
  for (let i = 0; i < 100; i += 1) {
    const response = await rawRequest(port, httpRequest('POST', '/rerank', [JSON_TYPE, 'Prefer: respond-async'], body));
    if (response.status === 202) return;
    assert.equal(response.status, 503);
  }
  assert.fail('the budget did not come back');
});

test('nesting deeper than MAX_JSON_DEPTH: 400 NESTING_TOO_DEEP, with Content-Length or chunked', async () => {
  const nested = `{"query":"q","documents":${'['.repeat(3_000)}`;
  const sized = await rawRequest(port, httpRequest('POST', '/rerank', [JSON_TYPE], nested));
  assert.equal(sized.status, 400, sized.body);
  assert.equal(codeOf(sized.body), 'NESTING_TOO_DEEP');
  const chunk = '['.repeat(100);
  const chunked = await rawRequest(
    port,
    httpRequest('POST', '/rerank', [JSON_TYPE, 'Transfer-Encoding: chunked'], `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`),
  );
  assert.equal(chunked.status, 400, chunked.body);
  assert.equal(codeOf(chunked.body), 'NESTING_TOO_DEEP');
  const strings = await rawRequest(
    port,
    httpRequest('POST', '/rerank', [JSON_TYPE, 'Prefer: respond-async'], JSON.stringify({ query: '[[[[[[[[[[[[', documents: ['{{{{{{{{{{'] })),
  );
  assert.equal(strings.status, 202, 'brackets inside strings are not nesting');
});

test('Content-Encoding: 415 UNSUPPORTED_CONTENT_ENCODING; a wrong method on a known path: 405 with Allow', async () => {
  const gzip = await rawRequest(port, httpRequest('POST', '/rerank', [JSON_TYPE, 'Content-Encoding: gzip'], '{}'));
  assert.equal(gzip.status, 415);
  assert.equal(codeOf(gzip.body), 'UNSUPPORTED_CONTENT_ENCODING');
  const wrong = await rawRequest(port, httpRequest('DELETE', '/rerank', []));
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'POST');
  assert.equal(codeOf(wrong.body), 'METHOD_NOT_ALLOWED');
  const head = await rawRequest(port, httpRequest('PUT', `/jobs/rq-${'0'.repeat(32)}`, []));
  assert.equal(head.headers.allow, 'DELETE, GET, HEAD');
});

test("Node's own refusals come in the envelope and close the connection: 400 framing, 431, 408", async () => {
  const cases: [string, number, string][] = [
    ['GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n', 400, 'BAD_REQUEST'],
    [`GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    [`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['GET /health HTTP/1.1\r\nHost: x\r\n', 408, 'REQUEST_TIMEOUT'], // headers never finished
    [`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nContent-Length: 50\r\n\r\n{"q`, 408, 'REQUEST_TIMEOUT'],
  ];
  for (const [request, status, code] of cases) {
    const response = await untilClosed(request);
    assert.equal(response.status, status, request.slice(0, 40));
    assert.equal(codeOf(response.body), code);
    assert.equal(response.headers.connection, 'close');
  }
});

/** Sends `request`, leaves the socket open, and returns what came back once the server closed it. */
function untilClosed(request: string): Promise<ReturnType<typeof parseResponse>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('the server did not close the connection')), 10_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer still leaves the answer read
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    socket.write(request);
  });
}
