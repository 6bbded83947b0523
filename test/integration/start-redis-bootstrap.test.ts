/** The Redis bootstrap of `npm start`, probing free ports so the shared Redis is never touched. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../shared/logger.ts';
import { freePort } from '../../scripts/lib/free-port.ts';
import { RedisUnavailableError, ensureRedis, pingRedis } from '../../scripts/lib/redis-bootstrap.ts';

const logger = createLogger({ LOG_LEVEL: 'silent' }, 'test');

test('nothing on the probed address: a private redis-server starts, answers, and stops', async () => {
  const probe = { host: '127.0.0.1', port: await freePort() };
  const redis = await ensureRedis({ probe, logger });
  try {
    assert.equal(redis.isPrivate, true);
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(await pingRedis(redis.url, 1_000));
  } finally {
    await redis.stop();
    await redis.stop(); // idempotent
  }
  assert.equal(await pingRedis(redis.url, 500), false);
});

test('a Redis answering on the probed address is used as is', async () => {
  const redis = await ensureRedis({ probe: { host: '127.0.0.1', port: 6379 }, logger });
  assert.deepEqual([redis.url, redis.isPrivate], ['redis://127.0.0.1:6379', false]);
  await redis.stop();
  assert.ok(await pingRedis(redis.url, 1_000), 'a shared Redis is never stopped');
});

test('no Redis and no redis-server: the error says how to get Redis', async () => {
  const probe = { host: '127.0.0.1', port: await freePort() };
  await assert.rejects(ensureRedis({ probe, logger, redisServer: 'no-such-redis-server' }), (error: unknown) => {
    assert.ok(error instanceof RedisUnavailableError);
    assert.match(error.message, /Install Redis/);
    assert.match(error.message, /REDIS_URL/);
    return true;
  });
});

test('REDIS_URL that does not answer is an error, never replaced by a private server', async () => {
  const redisUrl = `redis://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    ensureRedis({ redisUrl, probe: { host: '127.0.0.1', port: 6379 }, logger, timeoutMs: 500 }),
    /does not answer/,
  );
});
