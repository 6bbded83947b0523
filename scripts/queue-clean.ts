/**
 * npm run queue:clean -- --prefix P [--force]
 *
 * Removes every Redis key of the queue prefix P (`{P}:*`): every queue's jobs, events and metadata (/rerank per
 * model, bulk chunks, webhooks), results, status tokens, bulk records, Idempotency-Keys, rate-limit counters and
 * the worker registry (docs/operations.md "What stays in Redis after a stop"). Meant for a service that is
 * stopped: while a worker of that prefix is live (its report has not expired) it refuses, unless --force. Redis
 * comes from REDIS_URL (environment or `.env`), as for the service; never from REDIS_CLUSTER_NODES.
 *
 * Exit codes: 0 removed (prints how many keys), 1 refused or Redis unreachable, 2 bad flags or settings.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig, readEnv, type Config } from '../shared/config.ts';
import { keyPrefix, redisUrl } from '../shared/queue.ts';
import { removePrefixKeys } from '../shared/prefix-keys.ts';
import { listWorkerReports, reportTtlMs } from '../shared/worker-registry.ts';

const USAGE = `Usage: npm run queue:clean -- --prefix P [--force]
  --prefix P   the QUEUE_PREFIX whose keys ({P}:*) to remove
  --force      remove them even while workers of that prefix are live
Redis: REDIS_URL from the environment or .env (default redis://127.0.0.1:6379); one node, not REDIS_CLUSTER_NODES.`;

interface CleanArgs {
  config: Config;
  force: boolean;
}

/** The flags, validated like the service's own settings (the prefix as QUEUE_PREFIX); a string is a usage error. */
function parseCleanArgs(argv: string[]): CleanArgs | string {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { prefix: { type: 'string' }, force: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (!values.prefix) return '--prefix is required';
    const config = loadConfig({ ...readEnv(), QUEUE_PREFIX: values.prefix });
    // Never clean 127.0.0.1 believing it is the cluster: the prefix's keys live on the master of its one slot.
    if (config.REDIS_CLUSTER_NODES !== undefined) {
      return (
        'REDIS_CLUSTER_NODES is set: point REDIS_URL (instead) at the master that serves the ' +
        'prefix\'s slot (redis-cli CLUSTER KEYSLOT "{P}")'
      );
    }
    return { config, force: values.force ?? false };
  } catch (error) {
    if (error instanceof ConfigError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      return (error as Error).message;
    }
    throw error;
  }
}

async function clean({ config, force }: CleanArgs, redis: Redis): Promise<number> {
  const prefix = keyPrefix(config);
  const workers = await listWorkerReports(redis, prefix, reportTtlMs(config.WORKER_HEARTBEAT_MS));
  if (workers.length > 0 && !force) {
    const names = workers.map((worker) => worker.worker_id).join(', ');
    process.stderr.write(`queue:clean: ${workers.length} worker(s) of ${prefix} are live (${names}); stop them first, or pass --force\n`);
    return 1;
  }
  const removed = await removePrefixKeys(redis, config.QUEUE_PREFIX);
  process.stdout.write(`removed ${removed} keys under ${prefix}:\n`);
  return 0;
}

async function main(): Promise<number> {
  const args = parseCleanArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`queue:clean: ${args}\n${USAGE}\n`);
    return 2;
  }
  const url = redisUrl(args.config);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // connect() rejects with the same error, handled below
  try {
    await redis.connect();
    return await clean(args, redis);
  } catch (error) {
    process.stderr.write(`queue:clean: Redis at ${new URL(url).host} failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

process.exitCode = await main();
