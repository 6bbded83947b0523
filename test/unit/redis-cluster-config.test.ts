/** REDIS_CLUSTER_NODES: validation, parsing, and the connection roles carried over to cluster options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { clusterNodes, clusterOptions, queueEventsConnection } from '../../shared/queue.ts';

test('REDIS_CLUSTER_NODES takes host:port pairs, and excludes REDIS_URL', () => {
  const config = loadConfig({ REDIS_CLUSTER_NODES: 'redis-a:7000,10.0.0.2:7001' });
  assert.deepEqual(clusterNodes(config), [
    { host: 'redis-a', port: 7000 },
    { host: '10.0.0.2', port: 7001 },
  ]);
  assert.equal(clusterNodes(loadConfig({})), undefined, 'unset: a single Redis');
  for (const bad of ['redis-a', 'redis-a:7000,', 'redis://redis-a:7000', 'a:1, b:2']) {
    assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: bad }), ConfigError, bad);
  }
  assert.throws(
    () => loadConfig({ REDIS_URL: 'redis://x:6379', REDIS_CLUSTER_NODES: 'x:7000' }),
    (error: Error) => error instanceof ConfigError && /REDIS_URL.*REDIS_CLUSTER_NODES.*not both/.test(error.message),
  );
});

test('cluster options keep each role: producer fails fast, blocking retries forever where BullMQ checks it', () => {
  const producer = clusterOptions('producer');
  assert.equal(producer.enableOfflineQueue, false);
  assert.equal(producer.redisOptions?.maxRetriesPerRequest, 1);
  assert.equal(typeof producer.clusterRetryStrategy, 'function');
  const blocking = clusterOptions('blocking');
  assert.equal(blocking.enableOfflineQueue, true);
  assert.equal(blocking.redisOptions?.maxRetriesPerRequest, null);
  assert.ok(!('retryStrategy' in (blocking.redisOptions ?? {})), 'ioredis takes retries at the cluster level');
});

test('QueueEvents gets options for a single Redis (unchanged) and a cluster client for a cluster', () => {
  const single = queueEventsConnection(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6399' }));
  assert.equal((single as { url?: string }).url, 'redis://127.0.0.1:6399');
  assert.equal((single as { maxRetriesPerRequest?: unknown }).maxRetriesPerRequest, null);
  const cluster = queueEventsConnection(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:1' })) as { isCluster?: boolean; disconnect(): void };
  try {
    assert.equal(cluster.isCluster, true);
  } finally {
    cluster.disconnect();
  }
});
