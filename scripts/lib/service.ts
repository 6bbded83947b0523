/**
 * `npm start` and `npm run demo`: validate config, check the model, make sure Redis is there, then run the API
 * and one worker under the supervisor until SIGTERM/SIGINT. Returns the process exit code.
 */
import { ConfigError, loadConfig, readEnv, type Config } from '../../shared/config.ts';
import { createLogger, lifecycleLogger } from '../../shared/logger.ts';
import { onParentGone } from '../../shared/parent.ts';
import { modelDirProblem } from './model-check.ts';
import { RedisUnavailableError, ensureRedis, type RedisAddress, type RedisHandle } from './redis-bootstrap.ts';
import { STOP_MARGIN_MS, Supervisor, type Backoff, type ChildSpec } from './supervisor.ts';

/**
 * The worker's V8 heap: a 128 MB old space and 4 MB semi-spaces. V8 otherwise lets the heap grow well past the
 * live data (a job's body, arriving whole, is garbage soon after) before collecting; the worker's live heap stays
 * far below this (bench/worker-memory.ts, BENCHMARKS.md). Same as `npm run start:worker`.
 */
export const WORKER_NODE_ARGS = ['--max-old-space-size=128', '--max-semi-space-size=4'] as const;

export const SERVICE_CHILDREN: readonly ChildSpec[] = [
  { name: 'api', entry: 'api/main.ts', restart: false },
  { name: 'worker', entry: 'worker/main.ts', restart: true, nodeArgs: WORKER_NODE_ARGS },
];

/** The Redis everyone runs locally; probed when REDIS_URL is unset. */
export const DEFAULT_REDIS: RedisAddress = { host: '127.0.0.1', port: 6379 };

export interface RunServiceOptions {
  /** Repository root: children's working directory (config, `.env` and relative MODEL_DIR resolve from it). */
  cwd: string;
  /** Settings that win over the environment and `.env`, e.g. the demo's MODEL_DIR. */
  overrides?: Record<string, string>;
  probe?: RedisAddress;
  backoff?: Backoff;
}

export async function runService(options: RunServiceOptions): Promise<number> {
  const overrides = options.overrides ?? {};
  let config: Config;
  try {
    config = loadConfig({ ...readEnv(), ...overrides });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const logger = createLogger(config, 'supervisor');
  const problem = modelDirProblem(config.MODEL_DIR, config.MODEL_FILE);
  if (problem) {
    logger.fatal({ modelDir: config.MODEL_DIR }, problem);
    return 1;
  }
  let redis: RedisHandle;
  try {
    redis = await ensureRedis({
      redisUrl: config.REDIS_URL,
      redisClusterNodes: config.REDIS_CLUSTER_NODES,
      probe: options.probe ?? DEFAULT_REDIS,
      logger,
    });
  } catch (error) {
    if (!(error instanceof RedisUnavailableError)) throw error;
    logger.fatal(error.message);
    return 1;
  }

  const supervisor = new Supervisor({
    children: SERVICE_CHILDREN,
    cwd: options.cwd,
    // A cluster reaches the children through REDIS_CLUSTER_NODES itself; REDIS_URL would contradict it. Two glibc
    // malloc arenas instead of one per thread (ONNX Runtime and libuv threads): less fragmentation.
    env: {
      MALLOC_ARENA_MAX: '2',
      ...process.env,
      ...overrides,
      ...(config.REDIS_CLUSTER_NODES ? {} : { REDIS_URL: redis.url }),
    },
    logger,
    backoff: options.backoff,
    stopTimeoutMs: config.SHUTDOWN_GRACE_MS + STOP_MARGIN_MS,
  });
  const lifecycle = lifecycleLogger(logger);
  const onSignal = (signal: NodeJS.Signals) => {
    lifecycle.info({ signal }, 'stopping the service');
    void supervisor.stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // npm exits on SIGTERM without waiting for its script: the service must not go on serving without it.
  const stopWatchingParent = onParentGone(() => {
    lifecycle.info({ reason: 'parent gone' }, 'stopping the service');
    void supervisor.stop('SIGTERM');
  });
  supervisor.start();
  const code = await supervisor.done;
  stopWatchingParent();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await redis.stop();
  if (redis.isPrivate) lifecycle.info({ url: redis.url }, 'private redis-server stopped');
  lifecycle.info({ code }, 'service stopped');
  return code;
}
