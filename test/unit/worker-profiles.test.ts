import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEnv } from 'node:util';
import { ConfigSchema, loadConfig } from '../../shared/config.ts';
import { REPO_ROOT } from '../support/processes.ts';

const PROFILES = ['.env.dev', '.env.production', '.env.minimal'] as const;
const known = new Set(Object.keys(ConfigSchema.properties));

function readProfile(name: string): { text: string; env: Record<string, string> } {
  const text = readFileSync(join(REPO_ROOT, name), 'utf8');
  return { text, env: parseEnv(text) as Record<string, string> };
}

for (const name of PROFILES) {
  test(`${name} validates, sets only known variables, and comments each one`, () => {
    const { text, env } = readProfile(name);
    assert.ok(Object.keys(env).length > 0);
    for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is not a setting of shared/config.ts`);
    loadConfig(env);
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      if (/^[A-Z_]+=/.test(line)) assert.match(lines[index - 1] ?? '', /^#/, `${name}: no comment above ${line}`);
    });
  });
}

test('production listens on every interface and pins its threads', () => {
  const config = loadConfig(readProfile('.env.production').env);
  assert.equal(config.HOST, '0.0.0.0');
  assert.ok(['info', 'warn'].includes(config.LOG_LEVEL));
  assert.equal(config.WORKER_CONCURRENCY, 8);
  assert.ok(config.INTRA_OP_THREADS <= 2);
  assert.equal(config.REDIS_URL, undefined, 'REDIS_URL belongs to the deployment, not the profile');
});

test('minimal uses one thread, a small token budget and short retention', () => {
  const minimal = loadConfig(readProfile('.env.minimal').env);
  const production = loadConfig(readProfile('.env.production').env);
  assert.equal(minimal.INTRA_OP_THREADS, 1);
  assert.ok(minimal.TOKEN_BUDGET < production.TOKEN_BUDGET);
  assert.ok(minimal.RETAIN_COMPLETED_SECONDS < production.RETAIN_COMPLETED_SECONDS);
  // Retention is by age in every profile: a client that got a 202 can poll for RETAIN_COMPLETED_SECONDS.
  assert.equal(minimal.RETAIN_COMPLETED_COUNT, 0);
  assert.equal(production.RETAIN_COMPLETED_COUNT, 0);
});
