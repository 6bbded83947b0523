/**
 * Idempotency-Key across API instances: two in-process apps on the same Redis (each with its own connections, as
 * two API processes behind a load balancer) get the same body with the same key at once. One job must come of it,
 * and every answer must name it. No worker is needed: the jobs stay queued.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { loadConfig } from '../../shared/config.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';

const PREFIX = `test-bulk-idem-${randomUUID().slice(0, 8)}`;
let apps: FastifyInstance[] = [];

before(async () => {
  const config = loadConfig({ QUEUE_PREFIX: PREFIX, LOG_LEVEL: 'silent' });
  apps = await Promise.all([buildApp(config), buildApp(config)]);
  await Promise.all(apps.map((app) => app.ready()));
});

after(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await deleteKeysWithPrefix('redis://127.0.0.1:6379', PREFIX);
});

test('the same Idempotency-Key and body sent to two API instances at once make one job', async () => {
  for (let round = 0; round < 5; round += 1) {
    const key = `key-${randomUUID()}`;
    const payload = { query: `granite valley ${round}`, documents: ['quartz', 'basalt', 'slate'] };
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        apps[i % 2]!.inject({ method: 'POST', url: '/jobs', payload, headers: { 'idempotency-key': key } }),
      ),
    );
    assert.deepEqual(replies.map((reply) => reply.statusCode), Array(8).fill(202), replies[0]!.body);
    const ids = new Set(replies.map((reply) => (reply.json() as { job_id: string }).job_id));
    assert.equal(ids.size, 1, `round ${round}: ${[...ids].join(', ')}`);
    const [id] = ids;
    const status = await apps[0]!.inject({ method: 'GET', url: `/jobs/${id}` });
    assert.equal(status.statusCode, 200, status.body);
  }
});
