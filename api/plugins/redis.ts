/**
 * The API's one Redis command connection (producer role: no offline queue), shared by the BullMQ Queue and our
 * own reads. `withRedis` is how request code touches Redis: while the connection is down it fails at once with
 * REDIS_UNAVAILABLE (503) instead of waiting, and a Redis error never surfaces as a 500.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { createRedisConnection, redisUrl, type RedisClient } from '../../shared/queue.ts';
import fp from 'fastify-plugin';
import { closeWithin } from './close.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient;
    withRedis<T>(operation: () => Promise<T>): Promise<T>;
  }
}

const STARTUP_WAIT_MS = 2_000;

export const redisPlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const redis = createRedisConnection(config, 'producer');
    // Where we connect, for the logs: host:port (never the password of a redis://user:pass@host URL).
    const address = config.REDIS_CLUSTER_NODES ?? new URL(redisUrl(config)).host;
    let up = false;
    let closing = false;
    // Log transitions, not every failed reconnect attempt: one warning when Redis is unreachable (at start-up or
    // lost later), one line when it is back.
    let reportedDown = false;
    const reportDown = (message: string) => {
      if (reportedDown || closing) return;
      reportedDown = true;
      app.log.warn({ redis: address }, message);
    };
    redis.on('ready', () => {
      up = true;
      app.log.info({ redis: address }, reportedDown ? 'redis reachable again' : 'redis connected');
      reportedDown = false;
    });
    redis.on('close', () => {
      if (up) reportDown('redis connection lost');
      up = false;
    });
    redis.on('error', (error: Error) => app.log.debug({ err: error }, 'redis error'));

    async function withRedis<T>(operation: () => Promise<T>): Promise<T> {
      if (redis.status !== 'ready') throw new ServiceError('REDIS_UNAVAILABLE');
      try {
        return await operation();
      } catch (error) {
        // Our own bugs stay 500s; everything else in here is Redis (or BullMQ reporting Redis state).
        if (error instanceof ServiceError || error instanceof TypeError || error instanceof RangeError) throw error;
        app.log.warn({ err: error }, 'redis operation failed');
        throw new ServiceError('REDIS_UNAVAILABLE');
      }
    }

    // Give Redis a moment at start-up so the first requests are not refused while it connects; never block on it
    // (the API serves /health and answers 503 until Redis is there).
    app.addHook('onReady', async () => {
      if (redis.status === 'ready') return;
      let onReady = () => {};
      const timer = new Promise<void>((resolve) => {
        onReady = resolve;
        setTimeout(resolve, STARTUP_WAIT_MS).unref();
      });
      redis.once('ready', onReady);
      await timer;
      redis.off('ready', onReady);
      if (!up) reportDown('redis unreachable; requests that need it answer 503 until it is back');
    });
    app.decorate<RedisClient, 'redis'>('redis', redis);
    app.decorate('withRedis', withRedis);
    app.addHook('onClose', () => {
      closing = true;
      return closeWithin(app, 'redis', () => redis.quit().catch(() => redis.disconnect()));
    });
  },
  { name: 'redis' },
);
