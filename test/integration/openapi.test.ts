/**
 * The OpenAPI document: valid by a real OpenAPI validator, and complete: every route the app registers (seen
 * through an onRoute hook, so routes added later are checked without touching this test) is in it with its
 * methods, and every operation documents its error responses. Built in-process on the shared Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { OPENAPI_PATH, UNDOCUMENTED_PREFIXES } from '../../api/plugins/openapi.ts';
import { loadConfig } from '../../shared/config.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';

const PREFIX = `test-openapi-${randomUUID().slice(0, 8)}`;
const routes: RouteOptions[] = [];
let app: FastifyInstance;
let spec: { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

before(async () => {
  // Dashboard on, so that its routes are registered too and must be deliberately left out.
  const config = loadConfig({ QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'silent', DASHBOARD_USER: 'u', DASHBOARD_PASSWORD: 'p' });
  app = await buildApp(config, { onRoute: (route) => routes.push(route) });
  await app.ready();
  const reply = await app.inject({ method: 'GET', url: OPENAPI_PATH });
  assert.equal(reply.statusCode, 200);
  spec = reply.json();
});

after(async () => {
  await app?.close();
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', PREFIX);
});

/** Fastify's /jobs/:id is OpenAPI's /jobs/{id}. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

test('the document is valid OpenAPI (3.1)', async () => {
  const result = await new Validator().validate(structuredClone(spec));
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.equal(spec.openapi, '3.1.0');
});

test('every registered route is documented, with every method it answers', () => {
  const documented = routes.filter(
    (route) => !route.schema?.hide && !UNDOCUMENTED_PREFIXES.some((prefix) => route.url.startsWith(prefix)),
  );
  assert.ok(documented.length >= 10, `saw ${documented.length} routes`);
  for (const route of documented) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    for (const method of methods) {
      const operation = spec.paths[openapiPath(route.url)]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${route.url} is missing from ${OPENAPI_PATH}`);
    }
  }
  for (const path of ['/rerank', '/v1/rerank', '/v2/rerank', '/tei/rerank', '/tei/info', '/jobs/{id}', OPENAPI_PATH]) {
    assert.ok(spec.paths[path], path);
  }
  assert.equal(spec.paths['/admin/queues'], undefined, 'the dashboard is not part of the API document');
});

test('every operation documents its error responses; the native ones with the shared ErrorBody', () => {
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const errors = Object.keys(operation.responses).filter((status) => /^[45]/.test(status));
      assert.ok(errors.length > 0, `${method.toUpperCase()} ${path} documents no error response`);
    }
  }
  const nativeError = JSON.stringify(spec.paths['/rerank']!.post!.responses['4XX']);
  assert.match(nativeError, /UNKNOWN_FIELD/);
  assert.match(JSON.stringify(spec.paths['/v1/rerank']!.post!.responses['504']), /"message"/);
  assert.match(JSON.stringify(spec.paths['/tei/rerank']!.post!.responses['413']), /"error_type"/);
});

test('Swagger UI is served at /docs', async () => {
  const reply = await app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(reply.statusCode, 200);
  assert.match(reply.body, /swagger/i);
});
