/**
 * Makes sure `npm start` has a Redis: REDIS_URL when set, else whatever answers on 127.0.0.1:6379, else a private
 * redis-server without persistence that lives exactly as long as the supervisor. Anything else is an error that
 * says how to get Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { clusterNodes } from '../../shared/queue.ts';
import type { Logger } from '../../shared/logger.ts';
import { freePort } from './free-port.ts';

export interface RedisAddress {
  host: string;
  port: number;
}

export interface EnsureRedisOptions {
  /** REDIS_URL: used as given, never replaced by a private server. */
  redisUrl?: string;
  /** REDIS_CLUSTER_NODES: a cluster used as given (it must answer); REDIS_URL is then unset. */
  redisClusterNodes?: string;
  /** Where a shared Redis is looked for when REDIS_URL is unset; a parameter so tests can probe a free port. */
  probe: RedisAddress;
  logger: Logger;
  /** redis-server binary; a bare name is looked up on PATH. */
  redisServer?: string;
  /** Deadline for a probe answer and for a private server to come up. */
  timeoutMs?: number;
}

export interface RedisHandle {
  url: string;
  /** True when this process started the server and will stop it. */
  isPrivate: boolean;
  /** Stops a private server (idempotent); a no-op for a shared one. */
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

const DEFAULT_TIMEOUT_MS = 5_000;
const POLL_MS = 50;

export async function ensureRedis(options: EnsureRedisOptions): Promise<RedisHandle> {
  const { redisUrl, probe, logger, redisServer = 'redis-server', timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const shared = (url: string): RedisHandle => ({ url, isPrivate: false, stop: async () => undefined });
  if (options.redisClusterNodes !== undefined) {
    const nodes = options.redisClusterNodes;
    if (await pingCluster(nodes, timeoutMs)) return shared(`redis-cluster://${nodes}`);
    throw new RedisUnavailableError(`REDIS_CLUSTER_NODES=${nodes}: the cluster does not answer. Start it, or unset it.`);
  }
  if (redisUrl !== undefined) {
    if (await pingRedis(redisUrl, timeoutMs)) return shared(redisUrl);
    throw new RedisUnavailableError(`REDIS_URL=${redisUrl} does not answer. Start that Redis, or unset REDIS_URL.`);
  }
  const probeUrl = `redis://${probe.host}:${probe.port}`;
  if (await pingRedis(probeUrl, Math.min(timeoutMs, 1_000))) return shared(probeUrl);
  const binary = findExecutable(redisServer);
  if (binary === undefined) {
    throw new RedisUnavailableError(
      `No Redis answers on ${probe.host}:${probe.port} and ${redisServer} is not on the PATH. ` +
        'Install Redis 7 (e.g. `apt-get install redis-server`) or set REDIS_URL=redis://host:port.',
    );
  }
  const handle = await startPrivateRedis({ binary, port: await freePort(), timeoutMs });
  logger.info({ url: handle.url, binary }, `no Redis on ${probe.host}:${probe.port}: started a private redis-server without persistence`);
  return handle;
}

/** True when Redis at `url` answers PING within the timeout; never throws. */
export async function pingRedis(url: string, timeoutMs: number): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

// Redis Cluster (deployment)

/** True when the cluster seeded by `nodes` (host:port,...) is reachable and answers PING within the timeout. */
export async function pingCluster(nodes: string, timeoutMs: number): Promise<boolean> {
  const client = new Cluster(clusterNodes({ REDIS_CLUSTER_NODES: nodes }) ?? [], {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: timeoutMs,
    redisOptions: { connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0 },
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const answered = client.connect().then(async () => (await client.ping()) === 'PONG');
    return await Promise.race([answered, deadline]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

export function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface PrivateRedisOptions {
  binary: string;
  port: number;
  timeoutMs: number;
}

export async function startPrivateRedis(options: PrivateRedisOptions): Promise<RedisHandle> {
  const { binary, port, timeoutMs } = options;
  const url = `redis://127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  // detached: its own process group, so a Ctrl-C in the terminal does not stop Redis before the worker has
  // finished its job; the supervisor stops it last.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    output.splice(0, output.length - 20);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // Last resort if the supervisor dies without stopping it: never leave an orphan Redis behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const handle: RedisHandle = {
    url,
    isPrivate: true,
    stop: () => {
      stopping ??= stopChild(child, timeoutMs).finally(() => process.off('exit', killOnExit));
      return stopping;
    },
  };
  try {
    await waitUntilAnswering(url, child, timeoutMs);
  } catch (error) {
    await handle.stop();
    const detail = output.slice(-5).join('\n');
    throw new RedisUnavailableError(`${(error as Error).message}${detail ? `; redis-server said:\n${detail}` : ''}`);
  }
  return handle;
}

async function waitUntilAnswering(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) before answering on ${url}`);
    }
    if (await pingRedis(url, 500)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS)); // poll interval; bounded by the deadline
  }
  throw new Error(`redis-server did not answer on ${url} within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
