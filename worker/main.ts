/**
 * Worker entry: config -> logger -> load and warm the model -> consume rerank jobs -> publish metrics.
 * The model is loaded before the first job is taken, so no job ever pays for it. On SIGTERM/SIGINT the worker
 * stops taking jobs, lets the active ones finish, leaves the registry and frees the model and Redis.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Worker } from 'bullmq';
import { ConfigError, loadConfig, readEnv, type Config } from '../shared/config.ts';
import { createLogger, lifecycleLogger, type Logger } from '../shared/logger.ts';
import { onParentGone } from '../shared/parent.ts';
import {
  createRedisConnection,
  keyPrefix,
  parseFailure,
  type RerankJobData,
  type RerankJobResult,
} from '../shared/queue.ts';
import { writeScores } from '../shared/results.ts';
import { defaultModelOf, rerankQueueName, servedModelNames } from '../shared/served-models.ts';
import { BulkWorker } from './bulk/bulk-worker.ts';
import { EngineError, loadEngine, type RerankEngine } from './engine/index.ts';
import { HealthFile } from './health-file.ts';
import { stripWhenFinished } from './finished-jobs.ts';
import { MODEL_FIX_HINT } from './model-hint.ts';
import { createProcessor } from './processor.ts';
import { withPublicFailures } from './public-failure.ts';
import { WorkerReporter } from './reporter.ts';
import { closeInSteps } from './shutdown.ts';
import { WorkerStats } from './stats.ts';
import { throttledErrorLog } from './throttle.ts';
import { startWebhookWorker } from './webhooks.ts';

async function loadModel(config: Config, logger: Logger): Promise<RerankEngine | undefined> {
  try {
    return await loadEngine({
      modelDir: config.MODEL_DIR,
      modelFile: config.MODEL_FILE,
      maxLength: config.MAX_SEQ_LENGTH,
      intraOpThreads: config.INTRA_OP_THREADS,
      tokenBudget: config.TOKEN_BUDGET,
    });
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    const modelDir = resolve(config.MODEL_DIR);
    logger.fatal({ code: error.code, modelDir, reason: error.message }, `Cannot load the model from ${modelDir}. ${MODEL_FIX_HINT}`);
    return undefined;
  }
}

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(readEnv());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const logger = createLogger(config, 'worker');
  const lifecycle = lifecycleLogger(logger);
  if (!servedModelNames(config).includes(config.MODEL_NAME)) {
    // Its queue would be one the API never adds to.
    logger.fatal({ model: config.MODEL_NAME, served: servedModelNames(config) }, 'MODEL_NAME is not in SERVED_MODELS');
    return 1;
  }
  const engine = await loadModel(config, logger);
  if (!engine) return 1;
  const { info } = engine;
  if (info.synthetic) {
    logger.warn({ modelDir: info.modelDir }, 'synthetic model with random weights: its scores are meaningless');
  }

  const workerId = `${hostname()}-${process.pid}`;
  const prefix = keyPrefix(config);
  const stats = new WorkerStats();
  const connection = createRedisConnection(config, 'blocking');
  const reporterRedis = createRedisConnection(config, 'producer');
  // ioredis reconnects by itself; an outage shows as failed beats, which the reporter logs once.
  reporterRedis.on('error', () => undefined);
  // Our own commands (results, bulk chunks); blocking role: they wait out a Redis outage instead of failing jobs.
  const commands = createRedisConnection(config, 'blocking');
  const storeScores = (jobId: string, scores: readonly number[]) =>
    writeScores(commands, prefix, jobId, scores, config.RETAIN_COMPLETED_SECONDS);
  const worker = new Worker<RerankJobData, RerankJobResult>(
    rerankQueueName(config, config.MODEL_NAME),
    withPublicFailures(createProcessor({ engine, workerId, model: config.MODEL_NAME, stats, logger, storeScores })),
    { connection, prefix, concurrency: config.WORKER_CONCURRENCY },
  );
  // Bulk jobs are scored by the default model (docs/operations.md): only its workers take their chunks.
  const bulk =
    config.MODEL_NAME === defaultModelOf(config)
      ? new BulkWorker({ config, engine, workerId, redis: commands, logger })
      : undefined;
  worker.on('error', throttledErrorLog(logger, 'worker error'));
  stripWhenFinished(worker, logger, { onComplete: true });
  worker.on('failed', (job, error) => {
    const { code } = parseFailure(error.message);
    // The job keeps only the public reason; the log keeps the original error (cause) for whoever investigates.
    const { attemptsMade } = job ?? {};
    logger.warn({ jobId: job?.id, workerId, attemptsMade, code, reason: error.message, err: error.cause }, 'job failed');
  });
  const webhooks = startWebhookWorker(config, logger);
  const reporter = new WorkerReporter({
    redis: reporterRedis,
    prefix,
    intervalMs: config.WORKER_HEARTBEAT_MS,
    identity: {
      workerId,
      hostname: hostname(),
      pid: process.pid,
      model: config.MODEL_NAME,
      synthetic: info.synthetic,
      maxLength: info.maxLength,
      startedAt: new Date(),
    },
    stats,
    logger,
    healthFile: config.WORKER_HEALTH_FILE === undefined ? undefined : new HealthFile(config.WORKER_HEALTH_FILE, logger),
  });

  const close = closeInSteps(
    [
      // Waits for the active jobs: they complete and their results are stored before anything else goes away. With
      // Redis unreachable and no job running there is nothing to wait for, and a plain close() would hang.
      { name: 'worker', run: () => worker.close(connection.status !== 'ready' && stats.active === 0) },
      { name: 'webhooks', run: () => webhooks.close() },
      { name: 'bulk worker', run: async () => bulk?.close() },
      { name: 'reporter', run: () => reporter.close() },
      { name: 'engine', run: () => engine.close() },
      { name: 'redis', run: () => connection.disconnect() },
      { name: 'commands redis', run: () => commands.disconnect() },
      { name: 'reporter redis', run: () => reporterRedis.disconnect() },
    ],
    logger,
  );
  let stopping: Promise<number> | undefined;
  let stopWatchingParent = () => {};
  /** Idempotent: a second signal (Ctrl-C reaches both the supervisor and its children) joins the first close. */
  const stop = (reason: Record<string, unknown>, failed = false): Promise<number> => {
    stopping ??= (async () => {
      stopWatchingParent();
      lifecycle.info({ ...reason, activeJobs: stats.active }, 'worker stopping: finishing the active jobs');
      const ok = await close();
      lifecycle.info({ workerId }, 'worker stopped');
      return ok && !failed ? 0 : 1;
    })();
    return stopping;
  };
  const stopped = new Promise<number>((resolveStopped) => {
    const onSignal = (signal: NodeJS.Signals) => void stop({ signal }).then(resolveStopped);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    stopWatchingParent = onParentGone(() => void stop({ reason: 'parent gone' }).then(resolveStopped));
    // Not awaited before the signal handlers: a signal while Redis is still unreachable must still stop the worker.
    (async () => {
      await worker.waitUntilReady();
      await bulk?.start();
      await reporter.start();
      if (stopping) return;
      await reporter.setState('ready');
      const { modelName, synthetic, maxLength, fastTokenizer } = info;
      lifecycle.info({ workerId, model: config.MODEL_NAME, modelName, synthetic, maxLength, fastTokenizer }, 'worker ready');
    })().catch((error: unknown) => {
      if (stopping) return;
      logger.fatal({ err: error }, 'worker could not start consuming jobs');
      void stop({ reason: 'start-up failed' }, true).then(resolveStopped);
    });
  });
  return stopped;
}

process.exitCode = await main();
