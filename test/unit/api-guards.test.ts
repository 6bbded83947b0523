import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { findKey, keyId, parseApiKeys } from '../../api/auth/api-keys.ts';
import { BodyBudget } from '../../api/guards/body-budget.ts';
import { JsonDepthScanner } from '../../api/guards/json-depth.ts';
import { RouteMethods } from '../../api/route-methods.ts';

/** Scans `text` cut into pieces of `size` bytes; true when within the depth. */
function scan(text: string, maxDepth: number, size = 1): boolean {
  const bytes = Buffer.from(text);
  const scanner = new JsonDepthScanner(maxDepth);
  for (let i = 0; i < bytes.length; i += size) if (!scanner.push(bytes.subarray(i, i + size))) return false;
  return true;
}

test('JSON depth: counts arrays and objects, not brackets inside strings, whatever the chunking', () => {
  const request = JSON.stringify({ query: '[[[{{{', documents: ['a', { text: ']]]\\"[[[[' }, '\\\\'] });
  for (const size of [1, 2, 3, 7, 1_000]) {
    assert.equal(scan(request, 3, size), true, `size ${size}`);
    assert.equal(scan(request, 2, size), false, `size ${size}`);
    assert.equal(scan('{"a":"\\"[[[[[["}', 1, size), true, `escaped quote, size ${size}`);
    assert.equal(scan('["\\\\",[[[]]]]', 3, size), false, `escaped backslash ends the string, size ${size}`);
    assert.equal(scan('["é[", "😀[[[["]', 1, size), true, `multi-byte characters, size ${size}`);
  }
  assert.equal(scan(`${'['.repeat(9)}${']'.repeat(9)}`, 8), false);
  assert.equal(scan('[]'.repeat(1_000), 1), true, 'siblings do not add up');
});

test('JSON depth: a million-deep body is refused after its first bytes', () => {
  const scanner = new JsonDepthScanner(8);
  const started = performance.now();
  assert.equal(scanner.push(Buffer.from('['.repeat(1_000_000))), false);
  assert.ok(performance.now() - started < 50);
});

test('API keys: plain and sha256 entries, scope lists, constant-time lookup by digest', () => {
  const digest = createHash('sha256').update('hashed-key').digest('hex');
  const keys = parseApiKeys(` plain-key , limited:rerank+jobs,sha256:${digest}:metrics,sha256:${digest.toUpperCase()}`);
  assert.equal(keys.length, 4);
  assert.deepEqual([...keys[0]!.scopes], ['rerank', 'jobs', 'metrics']);
  assert.deepEqual([...keys[1]!.scopes], ['rerank', 'jobs']);
  assert.equal(findKey(keys, 'plain-key'), keys[0]);
  assert.equal(findKey(keys, 'limited'), keys[1]);
  assert.equal(findKey(keys, 'hashed-key'), keys[2], 'the first matching entry');
  assert.equal(findKey(keys, 'limited:rerank+jobs'), undefined);
  assert.equal(findKey(keys, sha256Text(digest)), undefined);
  assert.match(keyId(keys[0]!), /^[0-9a-f]{16}$/);
  for (const bad of ['key:admin', 'sha256:1234', 'key:rerank+', ' ', 'a b:rerank']) {
    assert.throws(() => parseApiKeys(bad), /API_KEYS/, bad);
  }
});

const sha256Text = (text: string) => `sha256:${text}`;

test('body budget: reserves until full, then refuses without taking anything', () => {
  const budget = new BodyBudget(100);
  assert.equal(budget.tryReserve(60), true);
  assert.equal(budget.tryReserve(50), false);
  assert.equal(budget.heldBytes, 60);
  budget.release(60);
  assert.equal(budget.tryReserve(100), true);
  budget.release(100);
  assert.equal(budget.tryReserve(500), true, 'larger than the budget: admitted alone');
  assert.equal(budget.tryReserve(1), false);
});

test('route methods: which methods a path allows, for 405 + Allow', () => {
  const routes = new RouteMethods();
  routes.add('/rerank', 'POST');
  routes.add('/jobs/:id', ['GET', 'HEAD']);
  routes.add('/admin/queues/*', 'GET');
  assert.deepEqual(routes.allowed('/rerank?x=1'), ['POST']);
  assert.deepEqual(routes.allowed('/jobs/rr-1'), ['GET', 'HEAD']);
  assert.deepEqual(routes.allowed('/jobs/a/b'), []);
  assert.deepEqual(routes.allowed('/admin/queues/api/queues'), ['GET']);
  assert.deepEqual(routes.allowed('/nowhere'), []);
});
