/**
 * API keys, scopes and rate limits, in-process (app.inject) on the shared Redis under a unique prefix: 401 / 403 /
 * allowed per scope on each protected route, the sha256 form, open routes, the open-mode log line, and per-key
 * limits counted in Redis.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../api/app.ts';
import { loadConfig } from '../../shared/config.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';

const PREFIX = `test-api-auth-${randomUUID().slice(0, 8)}`;
const apps: FastifyInstance[] = [];

const ALL = 'all-scopes-key-0123456789';
const CLIENT = 'client-key-0123456789';
const METRICS = 'metrics-key-0123456789';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const API_KEYS = `${ALL}, ${CLIENT}:rerank+jobs, sha256:${sha256(METRICS)}:metrics`;

async function startApp(env: Record<string, string>, logLines: string[] = []): Promise<FastifyInstance> {
  const config = loadConfig({ QUEUE_PREFIX: PREFIX, ...env });
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const app = await buildApp(config, { logger: pino({ level: 'info' }, stream) });
  await app.ready();
  apps.push(app);
  return app;
}

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', PREFIX);
});

const ROUTES = [
  { name: 'POST /rerank', scope: 'rerank', method: 'POST', url: '/rerank', payload: { query: 'q', documents: ['a'] } },
  { name: 'GET /jobs/:id', scope: 'jobs', method: 'GET', url: `/jobs/rq-${'0'.repeat(32)}` },
  { name: 'GET /metrics', scope: 'metrics', method: 'GET', url: '/metrics' },
  { name: 'POST /jobs', scope: 'rerank', method: 'POST', url: '/jobs', payload: { query: 'q', documents: ['a'] } },
  { name: 'GET /jobs/:id/result', scope: 'jobs', method: 'GET', url: `/jobs/bj-${'0'.repeat(32)}/result` },
  { name: 'DELETE /jobs/:id', scope: 'jobs', method: 'DELETE', url: `/jobs/bj-${'0'.repeat(32)}` },
] as const;

const call = (app: FastifyInstance, route: (typeof ROUTES)[number], key?: string) =>
  app.inject({
    method: route.method,
    url: route.url,
    headers: { prefer: 'respond-async', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
    ...('payload' in route ? { payload: route.payload } : {}),
  });

test('each protected route: 401 without a key or with a wrong one, 403 without its scope, allowed with it', async () => {
  const app = await startApp({ API_KEYS });
  for (const route of ROUTES) {
    const missing = await call(app, route);
    assert.equal(missing.statusCode, 401, `${route.name}: ${missing.body}`);
    assert.equal(missing.json().error.code, 'UNAUTHORIZED');
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="rerank-queue"');

    const wrong = await call(app, route, 'not-a-key');
    assert.equal(wrong.statusCode, 401, route.name);
    assert.match(String(wrong.headers['www-authenticate']), /error="invalid_token"/);

    if (route.method === 'GET') {
      const head = await app.inject({ method: 'HEAD', url: route.url });
      assert.equal(head.statusCode, 401, `HEAD ${route.url} needs the key too`);
    }

    const basic = await app.inject({ method: route.method, url: route.url, headers: { authorization: `Basic ${btoa('a:b')}` } });
    assert.equal(basic.statusCode, 401, `${route.name}: basic credentials are not a bearer key`);

    for (const [key, scopes] of [[ALL, ['rerank', 'jobs', 'metrics']], [CLIENT, ['rerank', 'jobs']], [METRICS, ['metrics']]] as const) {
      const response = await call(app, route, key);
      if ((scopes as readonly string[]).includes(route.scope)) {
        assert.ok(![401, 403].includes(response.statusCode), `${route.name} with ${key}: ${response.body}`);
      } else {
        assert.equal(response.statusCode, 403, `${route.name} with ${key}: ${response.body}`);
        assert.deepEqual(response.json().error, {
          code: 'FORBIDDEN',
          message: 'This API key does not have the scope this route needs.',
          details: { scope: route.scope },
        });
      }
    }
  }
  assert.equal((await call(app, ROUTES[0], ALL)).statusCode, 202);
  assert.equal((await call(app, ROUTES[1], CLIENT)).statusCode, 404, 'an allowed key reaches the route');
  assert.equal((await call(app, ROUTES[2], METRICS)).statusCode, 200);
  assert.equal((await call(app, ROUTES[0], ` ${CLIENT}`)).statusCode, 202, 'extra spaces after Bearer are fine');
});

test('/health, /ready and unknown routes stay open; 405 and 404 need no key', async () => {
  const app = await startApp({ API_KEYS });
  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  assert.ok([200, 503].includes((await app.inject({ method: 'GET', url: '/ready' })).statusCode));
  assert.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'PUT', url: '/metrics' })).statusCode, 405);
});

test('open mode: every route answers without a key, and the API says so once at start-up', async () => {
  const lines: string[] = [];
  const app = await startApp({}, lines);
  assert.equal((await call(app, ROUTES[2])).statusCode, 200);
  assert.equal((await call(app, ROUTES[0])).statusCode, 202);
  const warnings = lines.filter((line) => line.includes('API_KEYS is not set'));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.equal(JSON.parse(warnings[0]!).level, 40);
});

test('a malformed API_KEYS stops start-up without echoing the keys', async () => {
  for (const bad of ['secret-one:admin', 'sha256:abc', 'a b', ',,']) {
    await assert.rejects(
      startApp({ API_KEYS: bad }),
      (error: Error) => error.name === 'ApiKeysError' && !error.message.includes('secret') && /API_KEYS/.test(error.message),
    );
  }
});

test('rate limits: per key, counted in Redis, 429 RATE_LIMITED with Retry-After; open routes are not limited', async () => {
  const app = await startApp({ API_KEYS, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
  const metrics = ROUTES[2];
  assert.equal((await call(app, metrics, ALL)).statusCode, 200);
  assert.equal((await call(app, metrics, ALL)).statusCode, 200);
  const limited = await call(app, metrics, ALL);
  assert.equal(limited.statusCode, 429, limited.body);
  assert.equal(limited.json().error.code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60);
  assert.equal((await call(app, metrics, METRICS)).statusCode, 200, 'another key has its own budget');
  for (let i = 0; i < 5; i += 1) assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);

  // A second API instance on the same Redis shares the count.
  const other = await startApp({ API_KEYS, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
  assert.equal((await call(other, metrics, ALL)).statusCode, 429);
});
