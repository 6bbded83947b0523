/**
 * The service's settings: one schema, read from the environment (and `.env` when present) once at start-up,
 * validated, and frozen. The TypeScript type is derived from the schema, never written twice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { parseEnv } from 'node:util';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Int = (options: { default: number; minimum: number; maximum?: number; description: string }) =>
  Type.Integer(options);

/** Each setting: its environment variable, default and reason. */
export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'API bind address; 0.0.0.0 in containers.' }),
  PORT: Int({ default: 8000, minimum: 0, maximum: 65535, description: 'API port (the seed service used 8000).' }),
  REDIS_URL: Type.Optional(
    Type.String({
      pattern: '^rediss?://',
      description: 'Redis to use. Unset: 127.0.0.1:6379, and `npm start` may start a private redis-server.',
    }),
  ),
  QUEUE_PREFIX: Type.String({
    default: 'rerank',
    pattern: '^[A-Za-z0-9_.-]+$',
    description: 'Every Redis key lives under {QUEUE_PREFIX}; the braces keep them in one Redis Cluster slot.',
  }),
  MODEL_DIR: Type.String({
    default: 'models/ms-marco-TinyBERT-L-2-v2',
    minLength: 1,
    description: 'Model directory in HuggingFace layout (npm run model:fetch writes the default one).',
  }),
  MODEL_NAME: Type.Optional(
    Type.String({ minLength: 1, description: 'Model name in job keys and metrics; default: basename of MODEL_DIR.' }),
  ),
  MAX_SEQ_LENGTH: Int({
    default: 64,
    minimum: 8,
    maximum: 512,
    description: 'Tokens per (query, document) pair incl. special tokens; 64 as in the seed keeps latency low.',
  }),
  SYNC_TIMEOUT_MS: Int({
    default: 10_000,
    minimum: 0,
    maximum: 600_000,
    description: 'How long POST /rerank waits for its job before answering 202 with a job id.',
  }),
  MAX_SYNC_WAIT_MS: Int({
    default: 60_000,
    minimum: 0,
    maximum: 600_000,
    description: 'Cap on a client-requested wait (Prefer: wait=N).',
  }),
  MAX_DOCUMENTS: Int({ default: 10_000, minimum: 1, description: 'Documents per request; more answers 413.' }),
  MAX_BODY_BYTES: Int({
    default: 16 * 1024 * 1024,
    minimum: 1024,
    description: 'Request body limit; 10,000 passages of ~1 kB fit with room to spare.',
  }),
  MAX_QUEUE_DEPTH: Int({
    default: 1_000,
    minimum: 1,
    description: 'Waiting jobs beyond which new work is refused with 429 instead of queueing forever.',
  }),
  WORKER_CONCURRENCY: Int({
    default: 8,
    minimum: 1,
    maximum: 64,
    description:
      'Jobs one worker process runs at once. They run concurrently so that small jobs share inference batches ' +
      '(pairs of all running jobs are batched together, jobs taken in turn); the engine still runs one inference ' +
      'at a time, and its memory stays bounded by TOKEN_BUDGET. Each running job holds its documents.',
  }),
  INTRA_OP_THREADS: Int({
    default: availableParallelism(),
    minimum: 1,
    maximum: 256,
    description: 'ONNX Runtime threads per inference; default: the cores this process may use.',
  }),
  TOKEN_BUDGET: Int({
    default: 2048,
    minimum: 64,
    description: 'Padded tokens per inference batch (32 pairs of 64 tokens); bounds worker memory.',
  }),
  JOB_ATTEMPTS: Int({ default: 3, minimum: 1, maximum: 20, description: 'Tries for transient failures.' }),
  JOB_BACKOFF_MS: Int({ default: 500, minimum: 0, description: 'First retry delay; doubles each attempt.' }),
  RETAIN_COMPLETED_COUNT: Int({ default: 1_000, minimum: 0, description: 'Completed jobs kept for polling/reuse.' }),
  RETAIN_COMPLETED_SECONDS: Int({ default: 3_600, minimum: 1, description: 'Max age of a kept completed job.' }),
  RETAIN_FAILED_COUNT: Int({ default: 1_000, minimum: 0, description: 'Failed jobs kept for inspection.' }),
  RETAIN_FAILED_SECONDS: Int({ default: 86_400, minimum: 1, description: 'Max age of a kept failed job.' }),
  EVENTS_MAX_LEN: Int({ default: 10_000, minimum: 100, description: 'Cap of the BullMQ events stream.' }),
  WORKER_HEARTBEAT_MS: Int({
    default: 2_000,
    minimum: 100,
    description: 'How often a worker publishes its metrics; it drops out of /metrics after 3 missed beats.',
  }),
  DASHBOARD_USER: Type.Optional(Type.String({ minLength: 1, description: 'Basic-auth user for /admin/queues.' })),
  DASHBOARD_PASSWORD: Type.Optional(
    Type.String({ minLength: 1, description: 'Basic-auth password for /admin/queues; without both, no dashboard.' }),
  ),
  // Worker operations: memory cap, crash isolation, shutdown.
  WORKER_MAX_RSS_MB: Int({
    default: 400,
    minimum: 64,
    description:
      'Worker RSS cap in MB. Above 85% of it the worker takes no new jobs until it falls back; above it the worker ' +
      'finishes or hands back its active jobs and exits with code 75 so that a fresh process replaces it.',
  }),
  WORKER_LOCK_MS: Int({
    default: 8_000,
    minimum: 1_000,
    description:
      "How long a job's lock lasts without renewal (renewed every half of it). With WORKER_STALLED_CHECK_MS it " +
      'bounds how soon the jobs of a killed worker run elsewhere: at most about the sum of the two.',
  }),
  WORKER_STALLED_CHECK_MS: Int({
    default: 3_000,
    minimum: 500,
    description: 'How often workers look for jobs whose worker died (lock expired) and put them back in the queue.',
  }),
  WORKER_CRASH_LIMIT: Int({
    default: 2,
    minimum: 1,
    maximum: 20,
    description:
      'Times a job may stop its worker while running alone before it fails with WORKER_CRASHED. A job that was ' +
      'active when its worker died runs alone on its next try, so only the job that kills a worker is charged.',
  }),
  SHUTDOWN_GRACE_MS: Int({
    default: 20_000,
    minimum: 0,
    maximum: 600_000,
    description:
      'On SIGTERM/SIGINT (and a memory recycle) how long a worker lets its active jobs finish before it hands ' +
      'the rest back to the queue; the API answers what it holds within it. npm start waits this plus 10 s.',
  }),
  WORKER_MAX_ACTIVE_TEXT_MB: Int({
    default: 8,
    minimum: 1,
    description:
      'Document text (MB, counted in characters) a worker holds at once across its jobs; past it, it fetches no ' +
      'more until some end. Many small jobs run together; a job larger than this runs with what was already held.',
  }),
  TEST_HOOKS: Type.Boolean({
    default: false,
    description:
      'Tests only, never in production: the worker obeys markers in job queries (__test:crash__ kills the ' +
      'worker, __test:hold-mb=N__ holds N MB while the job runs) to test crash isolation and the memory cap.',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level.' },
  ),
});

type RawConfig = Static<typeof ConfigSchema>;

/** The validated, frozen settings every part of the service receives. */
export type Config = Readonly<RawConfig & { MODEL_NAME: string }>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Reads `.env` from the working directory; variables already set in the environment win. */
export function readEnv(env: Env = process.env, envFile = '.env'): Env {
  if (!existsSync(envFile)) return { ...env };
  return { ...parseEnv(readFileSync(envFile, 'utf8')), ...env };
}

/** Validates the settings once; throws ConfigError naming each bad variable, its value and what is expected. */
export function loadConfig(env: Env = readEnv()): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, input));
  const problems = [...Value.Errors(ConfigSchema, converted)].map((error) => {
    const key = error.path.split('/')[1] ?? error.path;
    const choices = error.schema.anyOf?.map((option: TSchema) => option.const).join(', ');
    return `${key}=${JSON.stringify(env[key] ?? '')}: ${choices ? `expected one of ${choices}` : error.message}`;
  });
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const config = converted as RawConfig;
  if (config.MAX_SYNC_WAIT_MS < config.SYNC_TIMEOUT_MS) {
    throw new ConfigError(
      `Invalid configuration: MAX_SYNC_WAIT_MS=${config.MAX_SYNC_WAIT_MS} must be >= SYNC_TIMEOUT_MS=${config.SYNC_TIMEOUT_MS}`,
    );
  }
  return Object.freeze({ ...config, MODEL_NAME: config.MODEL_NAME ?? basename(config.MODEL_DIR) });
}

/** For documentation and tests: every setting with its default and description. */
export function describeSettings(): { name: string; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]: [string, TSchema]) => ({
    name,
    default: schema.default,
    description: String(schema.description ?? ''),
  }));
}
