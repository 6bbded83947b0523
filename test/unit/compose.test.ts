/**
 * docker-compose.yml's deployment rules, read as text (CI also validates the file with `docker-compose config`):
 * the worker scales (`--scale worker=N`: no fixed name, no published port), is memory-capped above its own
 * recycle mark and restarts; every service restarts, reads the production profile and waits for a healthy Redis.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEnv } from 'node:util';
import { REPO_ROOT } from '../support/processes.ts';

const compose = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
const production = parseEnv(readFileSync(join(REPO_ROOT, '.env.production'), 'utf8'));

/** The lines of one service (indented under `services:`), comments dropped. */
function service(name: string): string {
  const lines = compose.split('\n').filter((line) => !/^\s*#/.test(line));
  const start = lines.indexOf(`  ${name}:`);
  assert.ok(start >= 0, `service ${name}`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => /^ {0,2}\S/.test(line));
  return rest.slice(0, end < 0 ? undefined : end).join('\n');
}

test('the worker scales out: no container_name, no published ports, a restart policy', () => {
  const worker = service('worker');
  assert.doesNotMatch(worker, /container_name:/);
  assert.doesNotMatch(worker, /^\s+ports:/m);
  assert.match(worker, /^\s+restart: (always|unless-stopped|on-failure)/m);
});

test("the worker's memory limit sits above its own recycle mark, with no swap beyond it", () => {
  const worker = service('worker');
  const limit = Number(worker.match(/^\s+mem_limit: (\d+)m$/m)?.[1]);
  assert.ok(limit > 0, 'mem_limit in MB');
  assert.equal(Number(worker.match(/^\s+memswap_limit: (\d+)m$/m)?.[1]), limit);
  const cap = Number(production.WORKER_MAX_RSS_MB ?? 400);
  assert.ok(limit >= cap + 100, `mem_limit ${limit}m leaves room above WORKER_MAX_RSS_MB=${cap} for the runtime`);
});

test('api and worker read .env.production and start after a healthy Redis; Redis persists to a volume', () => {
  for (const name of ['api', 'worker']) {
    const lines = service(name);
    assert.match(lines, /^\s+env_file: \.env\.production$/m, name);
    assert.match(lines, /depends_on:\s+redis:\s+condition: service_healthy/, name);
    assert.match(lines, /^\s+restart: /m, name);
  }
  const redis = service('redis');
  assert.match(redis, /- --appendonly\s+- "yes"/);
  assert.match(redis, /^\s+- redis-data:\/data$/m);
  assert.match(redis, /healthcheck:/);
});
