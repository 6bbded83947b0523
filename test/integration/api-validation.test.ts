/**
 * What the API refuses, and with which status and code: the app is built in-process (app.inject) on the shared
 * Redis under a unique prefix; no worker is needed for any of it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { pino } from 'pino';
import { loadConfig } from '../../shared/config.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { spawnService } from '../support/processes.ts';

const PREFIX = `test-api-validation-${randomUUID().slice(0, 8)}`;
const apps: FastifyInstance[] = [];

async function startApp(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const limits = { MAX_DOCUMENTS: '5', MAX_BODY_BYTES: '4096' };
  const config = loadConfig({ QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'silent', ...limits, ...env });
  const app = await buildApp(config);
  await app.ready();
  apps.push(app);
  return app;
}

let app: FastifyInstance;
before(async () => {
  app = await startApp();
});

after(async () => {
  await Promise.all(apps.map((each) => each.close()));
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', PREFIX); // PREFIX and PREFIX-full
});

const json = { 'content-type': 'application/json' };
const ok = { query: 'q', documents: ['a'] };

/** [name, body (object = JSON, string = raw), headers, status, code] */
const BAD: [string, unknown, Record<string, string>, number, string][] = [
  ['malformed JSON', '{"query": "q", "documents": [', json, 400, 'INVALID_JSON'],
  ['empty body', '', json, 400, 'INVALID_JSON'],
  ['body is an array', '[]', json, 400, 'VALIDATION_FAILED'],
  ['body is null', 'null', json, 400, 'VALIDATION_FAILED'],
  ['missing query', { documents: ['a'] }, json, 400, 'EMPTY_QUERY'],
  ['empty query', { query: '', documents: ['a'] }, json, 400, 'EMPTY_QUERY'],
  ['blank query', { query: ' \t ', documents: ['a'] }, json, 400, 'EMPTY_QUERY'],
  ['query not a string', { query: 42, documents: ['a'] }, json, 400, 'EMPTY_QUERY'],
  ['missing documents', { query: 'q' }, json, 400, 'NO_DOCUMENTS'],
  ['no documents', { query: 'q', documents: [] }, json, 400, 'NO_DOCUMENTS'],
  ['documents not an array', { query: 'q', documents: 'a' }, json, 400, 'VALIDATION_FAILED'],
  ['document is a number', { query: 'q', documents: ['a', 7] }, json, 400, 'INVALID_DOCUMENT'],
  ['text is not a string', { query: 'q', documents: [{ text: 7 }] }, json, 400, 'INVALID_DOCUMENT'],
  ['document without text', { query: 'q', documents: [{}] }, json, 400, 'INVALID_DOCUMENT'],
  ['unknown top-level field', { ...ok, topk: 1 }, json, 400, 'UNKNOWN_FIELD'],
  ['unknown document field', { query: 'q', documents: [{ text: 'a', id: 1 }] }, json, 400, 'UNKNOWN_FIELD'],
  ['__proto__ field', '{"query":"q","documents":["a"],"__proto__":{"admin":true}}', json, 400, 'UNKNOWN_FIELD'],
  ['top_k zero', { ...ok, top_k: 0 }, json, 400, 'INVALID_TOP_K'],
  ['top_k as string', { ...ok, top_k: '2' }, json, 400, 'INVALID_TOP_K'],
  ['top_k fractional', { ...ok, top_k: 1.5 }, json, 400, 'INVALID_TOP_K'],
  ['raw_scores not boolean', { ...ok, raw_scores: 'yes' }, json, 400, 'VALIDATION_FAILED'],
  ['bad Prefer wait', ok, { ...json, prefer: 'wait=soon' }, 400, 'INVALID_PREFER'],
  ['too many documents', { query: 'q', documents: ['1', '2', '3', '4', '5', '6'] }, json, 413, 'TOO_MANY_DOCUMENTS'],
  ['body over the limit', { query: 'q', documents: ['x'.repeat(5_000)] }, json, 413, 'PAYLOAD_TOO_LARGE'],
  ['text/plain', 'query=q', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['form encoded', 'query=q', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ['no content type', '{"query":"q","documents":["a"]}', {}, 415, 'UNSUPPORTED_MEDIA_TYPE'],
];

for (const [name, body, headers, status, code] of BAD) {
  test(`POST /rerank refuses ${name}: ${status} ${code}`, async () => {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    const response = await app.inject({ method: 'POST', url: '/rerank', payload, headers });
    assert.equal(response.statusCode, status, response.body);
    const parsed = response.json() as { error: { code: string; message: string } };
    assert.equal(parsed.error.code, code);
    assert.equal(typeof parsed.error.message, 'string');
  });
}

test('413 answers say the limit: details.limit in bytes for the body, in documents for the list', async () => {
  const post = (documents: string[]) =>
    app.inject({ method: 'POST', url: '/rerank', headers: json, payload: JSON.stringify({ query: 'q', documents }) });
  const tooLarge = await post(['x'.repeat(5_000)]);
  assert.equal(tooLarge.statusCode, 413);
  assert.deepEqual(tooLarge.json().error.details, { limit: 4096 });
  assert.match(tooLarge.json().error.message, /4096 bytes/);
  const tooMany = await post(['1', '2', '3', '4', '5', '6']);
  assert.deepEqual(tooMany.json().error.details, { limit: 5 });
});

test('other routes: bad job id 400, unknown job 404, bad top_k 400, unknown route 404, bad URL 400', async () => {
  const cases: [string, number, string][] = [
    ['/jobs/not-a-job', 400, 'INVALID_JOB_ID'],
    [`/jobs/rq-${'0'.repeat(32)}`, 404, 'JOB_NOT_FOUND'],
    [`/jobs/rr-${'0'.repeat(64)}`, 400, 'INVALID_JOB_ID'],
    [`/jobs/rq-${'0'.repeat(32)}?top_k=0`, 400, 'INVALID_TOP_K'],
    [`/jobs/rq-${'0'.repeat(32)}?page=2`, 400, 'UNKNOWN_FIELD'],
    ['/nowhere', 404, 'ROUTE_NOT_FOUND'],
    ['/jobs/%E0%A4%A', 400, 'BAD_REQUEST'],
  ];
  for (const [url, status, code] of cases) {
    const response = await app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, status, `${url}: ${response.body}`);
    assert.equal(response.json().error.code, code, url);
  }
});

test('a valid request is accepted: top_k above the document count, raw scores, plain and object documents', async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/rerank',
    headers: { ...json, prefer: 'respond-async' },
    payload: { query: 'q', documents: ['a', { text: 'b' }, { text: '' }], top_k: 99, raw_scores: true },
  });
  assert.equal(response.statusCode, 202, response.body);
  assert.equal(response.headers['preference-applied'], 'respond-async');
  assert.match(String(response.headers.location), /^\/jobs\/rq-[0-9a-f]{32}$/);
});

test('a queue deeper than MAX_QUEUE_DEPTH answers 429 with Retry-After; joining an existing job is not refused', async () => {
  const small = await startApp({ QUEUE_PREFIX: `${PREFIX}-full`, MAX_QUEUE_DEPTH: '1' });
  const post = (query: string) =>
    small.inject({
      method: 'POST',
      url: '/rerank',
      headers: { ...json, prefer: 'respond-async' },
      payload: { query, documents: ['a'] },
    });
  assert.equal((await post('first')).statusCode, 202);
  const refused = await post('second');
  assert.equal(refused.statusCode, 429, refused.body);
  assert.equal(refused.json().error.code, 'QUEUE_FULL');
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal((await post('first')).statusCode, 202, 'the same request joins its queued job');
});

test('the dashboard sits behind basic auth, which guards nothing else', async () => {
  const board = await startApp({ DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: 's3cret' });
  const denied = await board.inject({ method: 'GET', url: '/admin/queues' });
  assert.equal(denied.statusCode, 401);
  assert.equal(denied.json().error.code, 'UNAUTHORIZED');
  assert.match(String(denied.headers['www-authenticate']), /^Basic/);
  const as = (credentials: string, url = '/admin/queues') =>
    board.inject({ method: 'GET', url, headers: { authorization: `Basic ${btoa(credentials)}` } });
  assert.equal((await as('admin:nope')).statusCode, 401);
  const allowed = await as('admin:s3cret');
  assert.equal(allowed.statusCode, 200);
  assert.match(allowed.body, /<html/i);
  const queues = await as('admin:s3cret', '/admin/queues/api/queues');
  assert.equal(queues.statusCode, 200, queues.body);
  assert.equal((await board.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode, 404, 'no dashboard without credentials');
});

test('the dashboard says at start-up whether it is mounted, and why not, even at warn (.env.minimal)', async () => {
  const logged = async (env: Record<string, string>) => {
    const lines: { msg?: string; path?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (text: string) => void lines.push(JSON.parse(text)) });
    const config = loadConfig({ QUEUE_PREFIX: PREFIX, ...env });
    const built = await buildApp(config, { logger });
    await built.ready();
    apps.push(built);
    return lines.filter((line) => /^dashboard/.test(String(line.msg)));
  };
  const off = await logged({});
  assert.equal(off.length, 1);
  assert.match(String(off[0]?.msg), /not mounted: DASHBOARD_USER and DASHBOARD_PASSWORD are not set/);
  const on = await logged({ DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: 's3cret' });
  assert.deepEqual(on.map((line) => [line.msg, line.path]), [['dashboard enabled', '/admin/queues']]);
});

test('with only one of DASHBOARD_USER / DASHBOARD_PASSWORD the API refuses to start and names both', async () => {
  const api = spawnService({ entry: 'api/main.ts', env: { QUEUE_PREFIX: PREFIX, PORT: '0', DASHBOARD_USER: 'admin' } });
  assert.equal(await api.waitForExit(30_000), 1);
  const output = api.rawOutput.join('\n');
  assert.match(output, /DASHBOARD_USER/);
  assert.match(output, /DASHBOARD_PASSWORD/);
  assert.ok(!api.lines.some((line) => line.msg === 'api listening'));
});
