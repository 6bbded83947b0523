/**
 * A private redis-server on a free port, for tests that stop and restart Redis without touching the shared one;
 * and the removal of a test's keys from the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freePort } from '../../scripts/lib/free-port.ts';

/**
 * Deletes the keys of a queue prefix on Redis at `redisUrl` (SCAN, not KEYS): `{queuePrefix}...`, and those of
 * prefixes that extend it with a dash (`{queuePrefix-full}...`), as a test file's extra apps use. Never another
 * prefix that merely starts the same way (`{test-1}` vs `{test-12}`).
 */
export async function deleteKeysWithPrefix(redisUrl: string, queuePrefix: string): Promise<void> {
  const pattern = `{${queuePrefix.replace(/[*?[\]\\]/g, '\\$&')}[-}]*`;
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined); // refused while the server starts: connect() rejects, which we handle
      try {
        await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`, { cause: error });
      } finally {
        client.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50)); // poll interval, bounded by the deadline above
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
