/**
 * Worker entry: config -> logger -> load and warm the model -> consume rerank jobs -> publish metrics.
 * The model is loaded before the first job is taken, so no job ever pays for it. On SIGTERM/SIGINT the worker
 * stops taking jobs, lets the active ones finish within SHUTDOWN_GRACE_MS (hands the rest back to the queue),
 * leaves the registry and frees the model and Redis. Above WORKER_MAX_RSS_MB it does the same and exits 75.
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
import { readDocumentsList, type DocumentsList } from '../shared/job-documents.ts';
import { writeScores } from '../shared/results.ts';
import { defaultModelOf, rerankQueueName, servedModelNames } from '../shared/served-models.ts';
import { BulkWorker } from './bulk/bulk-worker.ts';
import { EngineError, loadEngine, type RerankEngine } from './engine/index.ts';
import { HealthFile } from './health-file.ts';
import { stripWhenFinished } from './finished-jobs.ts';
import { ActiveJobs } from './active-jobs.ts';
import { CrashGuard } from './crash-guard.ts';
import { drainWorker } from './drain.ts';
import { HeldDocuments } from './held-documents.ts';
import { Intake } from './intake.ts';
import { createJobRunner } from './job-runner.ts';
import { MemoryWatchdog, RECYCLE_EXIT_CODE } from './memory-watchdog.ts';
import { MODEL_FIX_HINT } from './model-hint.ts';
import { createProcessor } from './processor.ts';
import { withPublicFailures } from './public-failure.ts';
import { WorkerReporter } from './reporter.ts';
import { closeInSteps, settleAll } from './shutdown.ts';
import { SoloLane } from './solo-lane.ts';
import { WorkerStats } from './stats.ts';
import { withTestHooks } from './test-hooks.ts';
import { throttledErrorLog } from './throttle.ts';
import { startWebhookWorker } from './webhooks.ts';

/**
 * BullMQ's own limit on stalls, far above WORKER_CRASH_LIMIT: the crash guard decides which job is to blame; this
 * only ends a loop should the guard's markers be lost.
 */
const MAX_STALLED_COUNT = 100;

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
  const readDocuments = (list: DocumentsList) => readDocumentsList(commands, list);
  const scoreJob = createProcessor({ engine, workerId, model: config.MODEL_NAME, stats, logger, storeScores, readDocuments });
  const activeJobs = new ActiveJobs();
  const lane = new SoloLane({
    onExclusiveWanted: () => intake.hold('solo'),
    onExclusiveDone: () => intake.release('solo'),
  });
  const queueName = rerankQueueName(config, config.MODEL_NAME);
  const runJob = createJobRunner({
    // Failures leave as `CODE: message` without stack or paths (the dashboard shows them).
    score: withPublicFailures(config.TEST_HOOKS ? withTestHooks(scoreJob) : scoreJob),
    activeJobs,
    lane,
    guard: new CrashGuard({ redis: connection, prefix, queueName, workerId, limit: config.WORKER_CRASH_LIMIT }),
    logger,
  });
  const worker: Worker<RerankJobData, RerankJobResult> = new Worker(queueName, async (job, token) => {
    try {
      return await runJob(job, token);
    } finally {
      held.release(job.id);
    }
  }, {
    connection,
    prefix,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_CHECK_MS,
    maxStalledCount: MAX_STALLED_COUNT,
  });
  // One bound on the text held, across /rerank jobs and bulk chunks.
  const heldDocuments = new HeldDocuments(config.WORKER_MAX_ACTIVE_TEXT_MB * 1024 * 1024);
  const held = heldDocuments.register(worker, config.WORKER_CONCURRENCY);
  worker.on('active', (job) => held.add(job));
  // Bulk jobs are scored by the default model (docs/operations.md): only its workers take their chunks.
  const bulk =
    config.MODEL_NAME === defaultModelOf(config)
      ? new BulkWorker({ config, engine, workerId, redis: commands, logger, heldDocuments })
      : undefined;
  const intake = new Intake(bulk ? [worker, bulk] : [worker], logger);
  if (config.TEST_HOOKS) logger.warn('TEST_HOOKS is on: job queries can crash this worker on purpose (tests only)');
  worker.on('error', throttledErrorLog(logger, 'worker error'));
  stripWhenFinished(worker, commands, logger, { onComplete: true });
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
      // Bulk chunks stop being fetched at the same moment as /rerank jobs; the active ones (a second or so each)
      // finish.
      {
        name: 'workers',
        run: () =>
          settleAll([
            drainWorker({
              worker,
              activeJobs,
              graceMs: config.SHUTDOWN_GRACE_MS,
              logger,
              force: connection.status !== 'ready' && activeJobs.size === 0,
            }),
            bulk?.close(),
          ]),
      },
      { name: 'webhooks', run: () => webhooks.close() },
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
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  /**
   * Idempotent: a second signal (Ctrl-C reaches both the supervisor and its children) joins the first close.
   * Resolves with `exitCode`, or 1 when a close step failed.
   */
  const stop = (reason: Record<string, unknown>, exitCode = 0): Promise<number> => {
    stopping ??= (async () => {
      stopWatchingParent();
      intake.stop();
      watchdog.stop();
      // Shown in /metrics and counted out of /ready at once, before the jobs finish.
      void reporter.setState(exitCode === RECYCLE_EXIT_CODE ? 'recycling' : 'draining');
      const graceMs = config.SHUTDOWN_GRACE_MS;
      lifecycle.info({ ...reason, activeJobs: activeJobs.size, graceMs }, 'worker stopping: finishing the active jobs');
      const ok = await close();
      lifecycle.info({ workerId, exitCode: ok ? exitCode : 1 }, 'worker stopped');
      return ok ? exitCode : 1;
    })();
    void stopping.then(resolveStopped);
    return stopping;
  };
  const watchdog = new MemoryWatchdog({
    capMb: config.WORKER_MAX_RSS_MB,
    logger,
    jobs: () => ({ active: activeJobs.size, finished: stats.completed + stats.failed }),
    onHold: (rssMb) => intake.hold('memory', { rssMb, capMb: config.WORKER_MAX_RSS_MB }),
    onRelease: (rssMb) => intake.release('memory', { rssMb, capMb: config.WORKER_MAX_RSS_MB }),
    onRecycle: (rssMb) => {
      const capMb = config.WORKER_MAX_RSS_MB;
      logger.warn({ rssMb, capMb, activeJobs: activeJobs.size }, `worker recycling: RSS ${rssMb} MB reached the cap`);
      void stop({ reason: 'memory', rssMb, capMb }, RECYCLE_EXIT_CODE);
    },
  });
  const onSignal = (signal: NodeJS.Signals) => void stop({ signal });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  stopWatchingParent = onParentGone(() => void stop({ reason: 'parent gone' }));
  // Not awaited before the signal handlers: a signal while Redis is still unreachable must still stop the worker.
  (async () => {
    await worker.waitUntilReady();
    await bulk?.start();
    await reporter.start();
    if (stopping) return;
    watchdog.start();
    await reporter.setState('ready');
    const { modelName, synthetic, maxLength, fastTokenizer } = info;
    lifecycle.info({ workerId, model: config.MODEL_NAME, modelName, synthetic, maxLength, fastTokenizer }, 'worker ready');
  })().catch((error: unknown) => {
    if (stopping) return;
    logger.fatal({ err: error }, 'worker could not start consuming jobs');
    void stop({ reason: 'start-up failed' }, 1);
  });
  return stopped;
}

process.exitCode = await main();
