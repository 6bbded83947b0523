/**
 * Generated hostile requests for the API, deterministic (seeded): malformed JSON, wrong types, deep nesting, huge
 * strings, NUL bytes and lone surrogates, prototype keys, wrong content types and encodings, oversized headers
 * and URLs, path traversal in job ids, broken HTTP framing, wrong methods. Each case says which statuses it may
 * get; whatever it gets must be below 500 and, when an error, in the documented envelope.
 */
import { httpRequest, type RawRequestOptions } from './raw-http.ts';

export interface HostileCase {
  kind: string;
  request: Buffer;
  options?: RawRequestOptions;
  /** Statuses the case may get; undefined: any status below 500. */
  expect?: number[];
}

const JSON_TYPE = 'Content-Type: application/json';
const ASYNC = 'Prefer: respond-async';
const VALID = { query: 'what causes tides', documents: ['The moon pulls the sea.', { text: 'Wind makes waves.' }] };

function prng(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
}

const post = (body: string | Buffer, headers: string[] = [JSON_TYPE, ASYNC]) => httpRequest('POST', '/rerank', headers, body);

function malformedJson(random: (n: number) => number): HostileCase[] {
  const text = JSON.stringify(VALID);
  const cases: HostileCase[] = [];
  for (let cut = 0; cut < text.length - 1; cut += 1) cases.push({ kind: 'truncated JSON', request: post(text.slice(0, cut)), expect: [400] });
  for (let i = 0; i < 1_200; i += 1) {
    const bytes = Buffer.from(text);
    bytes[random(bytes.length)] = random(256);
    bytes[random(bytes.length)] = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x00][random(9)]!;
    cases.push({ kind: 'corrupted JSON', request: post(bytes) });
  }
  // Token soup: random sequences of JSON tokens, mostly invalid, sometimes deep.
  const tokens = ['{', '}', '[', ']', ':', ',', '"query"', '"documents"', '"a"', '1', 'null', 'true', '"\\u0000"', '"\\"'];
  for (let i = 0; i < 300; i += 1) {
    const soup = Array.from({ length: 1 + random(40) }, () => tokens[random(tokens.length)]).join('');
    cases.push({ kind: 'token soup', request: post(soup) });
  }
  const odd = ["{'query':'q'}", '{"query":NaN}', '{"query":"q",}', '/* c */{}', '\ufeff{}', '{"a":1}{"b":2}', 'true', '"str"', '1e999', '-', '{"query":"q","documents":["a"]}garbage', '\u0000', '{"query":"\\ud800"', '{"query":"\\x41"}', '{"query":"\\u12"}', '{"query" "q"}', '{{}}', '[', ']'];
  for (const body of odd) cases.push({ kind: 'odd JSON', request: post(body), expect: [400] });
  return cases;
}

function wrongTypes(): HostileCase[] {
  const values: unknown[] = [null, 0, -1, 1.5, 1e308, true, false, '', ' ', '0', [], {}, [[]], [{}], { text: 1 }, 'x'.repeat(100)];
  const cases: HostileCase[] = [];
  for (const field of ['query', 'documents', 'top_k', 'raw_scores']) {
    for (const value of values) {
      cases.push({ kind: `wrong type: ${field}`, request: post(JSON.stringify({ ...VALID, [field]: value })) });
      cases.push({ kind: `wrong type in documents`, request: post(JSON.stringify({ ...VALID, documents: ['a', value] })) });
      cases.push({ kind: `wrong type of text`, request: post(JSON.stringify({ ...VALID, documents: [{ text: value }] })) });
    }
  }
  for (const body of ['null', '[]', '0', '"q"', 'false', '[{"query":"q","documents":["a"]}]']) cases.push({ kind: 'not an object', request: post(body), expect: [400] });
  return cases;
}

function deepNesting(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const depth of [9, 10, 20, 100, 1_000, 10_000, 100_000, 1_000_000]) {
    for (const [open, close] of [['[', ']'], ['{"a":', '}']] as const) {
      const nested = `${open.repeat(depth)}${close.repeat(depth)}`;
      cases.push({ kind: 'deep nesting in documents', request: post(`{"query":"q","documents":${nested}}`), expect: [400] });
      cases.push({ kind: 'deep nesting, unclosed', request: post(`{"query":"q","documents":${open.repeat(depth)}`), expect: [400] });
      cases.push({ kind: 'deep nesting at top', request: post(nested.replaceAll('"a":', '"query":')), expect: [400] });
    }
  }
  // Brackets inside strings are not nesting: these are valid requests.
  cases.push({ kind: 'brackets in strings', request: post(JSON.stringify({ query: '[[[[[[[[[[{{{{{{{{{', documents: ['\\"[[[[[[[[[[[[', '"]]]]]'] })), expect: [202] });
  return cases;
}

function hugeAndStrangeStrings(): HostileCase[] {
  const strange = ['\u0000', 'a\u0000b', '\ud800', '\udfff', '\ud800\ud800', '\uffff', '\u202e', '\u0000'.repeat(1_000), '😀'.repeat(500), '\r\n\r\n', '%00', '<script>', '${jndi:ldap://x}', '../../etc/passwd'];
  const cases: HostileCase[] = [];
  for (const value of strange) {
    cases.push({ kind: 'strange query', request: post(JSON.stringify({ ...VALID, query: value })) });
    cases.push({ kind: 'strange document', request: post(JSON.stringify({ ...VALID, documents: [value, { text: value }] })) });
    cases.push({ kind: 'strange escaped', request: post(JSON.stringify({ ...VALID, query: value }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)) });
  }
  // Invalid UTF-8 bytes inside a string.
  cases.push({ kind: 'invalid UTF-8', request: post(Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('","documents":["a"]}')])) });
  cases.push({ kind: 'huge query', request: post(JSON.stringify({ ...VALID, query: 'tide '.repeat(200_000) })), expect: [202] });
  cases.push({ kind: 'huge document', request: post(JSON.stringify({ ...VALID, documents: ['wave '.repeat(600_000)] })), expect: [202] });
  cases.push({ kind: 'many documents', request: post(JSON.stringify({ query: 'q', documents: Array.from({ length: 10_001 }, () => 'a') })), expect: [413] });
  cases.push({ kind: 'many empty documents', request: post(JSON.stringify({ query: 'q', documents: Array.from({ length: 10_000 }, () => '') })), expect: [202] });
  // Declares more than MAX_BODY_BYTES and sends only a little of it: refused from the header.
  cases.push({ kind: 'declared too large', request: post('{"query":"q"', [JSON_TYPE, 'Content-Length: 17000000']), expect: [413] });
  return cases;
}

function prototypeKeys(): HostileCase[] {
  const keys = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '__defineGetter__'];
  const cases: HostileCase[] = [];
  for (const key of keys) {
    const value = '{"admin":true,"polluted":1}';
    cases.push({ kind: 'prototype key at top', request: post(`{"query":"q","documents":["a"],"${key}":${value}}`), expect: [400] });
    cases.push({ kind: 'prototype key in document', request: post(`{"query":"q","documents":[{"text":"a","${key}":${value}}]}`), expect: [400] });
    cases.push({ kind: 'prototype key only', request: post(`{"${key}":{"query":"q","documents":["a"]}}`), expect: [400] });
    cases.push({ kind: 'constructor.prototype', request: post(`{"query":"q","documents":["a"],"${key}":{"prototype":{"x":1}}}`), expect: [400] });
    cases.push({ kind: 'prototype key in query string', request: httpRequest('GET', `/jobs/rq-${'0'.repeat(32)}?${key}=1&top_k=1`, []), expect: [400] });
  }
  return cases;
}

function contentTypes(): HostileCase[] {
  const body = JSON.stringify(VALID);
  const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-seq', 'application/jsonx', 'application/xml', 'json', '', '*/*', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;;;', 'text/json'];
  const cases: HostileCase[] = types.map((type) => ({ kind: 'content type', request: post(body, [`Content-Type: ${type}`, ASYNC]) }));
  cases.push({ kind: 'no content type', request: post(body, [ASYNC]), expect: [415] });
  cases.push({ kind: 'two content types', request: post(body, [JSON_TYPE, 'Content-Type: text/plain', ASYNC]) });
  for (const encoding of ['gzip', 'deflate', 'br', 'x-gzip', 'compress', 'gzip, identity', 'GZIP', 'zstd']) {
    cases.push({ kind: 'content encoding', request: post(body, [JSON_TYPE, `Content-Encoding: ${encoding}`, ASYNC]), expect: [415] });
  }
  return cases;
}

function headersAndUrls(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const size of [17_000, 40_000, 100_000]) {
    cases.push({ kind: 'huge header', request: httpRequest('GET', '/health', [`X-Pad: ${'a'.repeat(size)}`]), expect: [431] });
    cases.push({ kind: 'huge URL', request: httpRequest('GET', `/jobs/${'a'.repeat(size)}`, []), expect: [431] });
    cases.push({ kind: 'many headers', request: httpRequest('GET', '/health', Array.from({ length: size / 20 }, (_, i) => `X-H${i}: v`)), expect: [200, 431] });
  }
  for (const length of [101, 200, 5_000]) cases.push({ kind: 'long job id', request: httpRequest('GET', `/jobs/${'a'.repeat(length)}`, []), expect: [400, 404] });
  return cases;
}

function jobIds(): HostileCase[] {
  const zero = `rq-${'0'.repeat(32)}`;
  const ids = ['../../etc/passwd', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2f', '....//....//', `${zero}/../../`, `${zero}%00`, '%00', `${zero}%0d%0aX-Injected:%201`, 'rr-../../', `rr-${'0'.repeat(64)}`, `rq-${'g'.repeat(32)}`, `RQ-${'0'.repeat(32)}`, `${zero}0`, 'rr-', '1', '0x1', '%', '%zz', '%E0%A4%A', '%C0%AE%C0%AE%C0%AF', '~', '*', `${zero};rm -rf /`, `${zero}?top_k=-1`, `${zero}?top_k=1e3`, `${zero}?top_k=99999999999`, `${zero}?top_k=1&top_k=2`, `${zero}#frag`, '\\..\\..\\windows', '/etc/passwd', `//${zero}`];
  const cases: HostileCase[] = [];
  for (const id of ids) {
    cases.push({ kind: 'job id', request: httpRequest('GET', `/jobs/${id}`, []), expect: [400, 404] });
    cases.push({ kind: 'job id, wrong method', request: httpRequest('DELETE', `/jobs/${id}`, []), expect: [400, 404, 405] });
  }
  return cases;
}

function framing(): HostileCase[] {
  const raw = (text: string, expect?: number[]): HostileCase => ({ kind: 'HTTP framing', request: Buffer.from(text, 'latin1'), expect });
  const body = JSON.stringify(VALID);
  return [
    raw('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', [400]),
    raw('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', [400]),
    raw('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', [400]),
    raw(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, [400]),
    raw(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n`, [400]),
    raw(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`),
    raw(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, [200, 202]),
    raw(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nContent-Length: ${body.length + 10}\r\n\r\n${body}`),
    raw('GARBAGE\r\n\r\n', [400]),
    raw('GET /health\r\n\r\n', [200, 400]), // HTTP/0.9-style: Node serves it
    raw('GET /health HTTP/9.9\r\nHost: x\r\n\r\n', [400, 505]),
    raw('get /health HTTP/1.1\r\nHost: x\r\n\r\n', [400]),
    raw('BREW /health HTTP/1.1\r\nHost: x\r\n\r\n', [400, 405]),
    raw('GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n', [400]),
    raw('GET /health HTTP/1.1\r\nHost: x\r\nX-Bad\u0000: v\r\n\r\n', [400]),
    raw('GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n', [200, 400]),
    raw('GET /health HTTP/1.1\nHost: x\n\n', [200, 400]),
    raw('GET http://evil.example/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [200, 400, 404]),
    raw('GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', [400, 404]),
    raw('\r\n\r\n\r\n', [400, 408]), // empty lines before a request are skipped: then it times out
    raw('\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003', [400]), // a TLS ClientHello
  ];
}

function wrongMethods(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) cases.push({ kind: 'wrong method', request: httpRequest(method, '/rerank', []), expect: [405] });
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/health', '/ready', '/metrics']) cases.push({ kind: 'wrong method', request: httpRequest(method, path, []), expect: [405] });
  }
  for (const method of ['GET', 'PUT']) cases.push({ kind: 'wrong method', request: httpRequest(method, '/jobs', []), expect: [405] });
  cases.push({ kind: 'empty job id', request: httpRequest('GET', '/jobs/', []), expect: [400] });
  for (const path of ['/', '/rerank/', '/RERANK', '/rerank/x', '/admin', '/admin/queues', '/.env', '/.git/config', '/node_modules/fastify/package.json', '/api/../.env']) {
    cases.push({ kind: 'unknown route', request: httpRequest('GET', path, []), expect: [404] });
  }
  return cases;
}

/** Slow clients: they are cut off after REQUEST_TIMEOUT_MS with a 408. */
export function slowCases(count: number): HostileCase[] {
  const body = JSON.stringify(VALID);
  return Array.from({ length: count }, (_, i) => {
    const request = i % 2 === 0
      ? Buffer.from(`POST /rerank HTTP/1.1\r\nHost: x\r\n${JSON_TYPE}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`)
      : Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\n');
    const pieces = Array.from({ length: 200 }, () => (i % 2 === 0 ? 'x' : 'X-Slow: 1\r\n'));
    return { kind: i % 2 === 0 ? 'slow body' : 'slow headers', request, options: { pieces, pauseMs: 50, timeoutMs: 20_000 }, expect: [408] };
  });
}

export function hostileCases(seed = 9): HostileCase[] {
  const random = prng(seed);
  return [
    ...malformedJson(random),
    ...wrongTypes(),
    ...deepNesting(),
    ...hugeAndStrangeStrings(),
    ...prototypeKeys(),
    ...contentTypes(),
    ...headersAndUrls(),
    ...jobIds(),
    ...framing(),
    ...wrongMethods(),
  ];
}
