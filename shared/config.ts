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
import { modelAliases, servedModelNames } from './served-models.ts';

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
  MODEL_FILE: Type.String({
    default: 'onnx/model.onnx',
    // Relative to MODEL_DIR, never outside it.
    pattern: '^(?!.*\\.\\.)[\\w.-]+(/[\\w.-]+)*\\.onnx$',
    description: 'ONNX graph inside MODEL_DIR, e.g. onnx/model_int8.onnx written by npm run model:quantize.',
  }),
  MODEL_NAME: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Model name in job keys and metrics; default: basename of MODEL_DIR (+ the MODEL_FILE variant).',
    }),
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
    description:
      'Cap on a client-requested wait (Prefer: wait=N); also how long the synchronous compatibility routes wait ' +
      '(Cohere, Jina, TEI) before answering 504.',
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
  RETAIN_COMPLETED_COUNT: Int({
    default: 0,
    minimum: 0,
    description:
      'Optional cap on completed jobs kept; 0: no cap. Retention is by age (RETAIN_COMPLETED_SECONDS): a finished ' +
      'job keeps only its compact result, not its documents, so memory stays bounded without a count.',
  }),
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
    Type.String({
      minLength: 1,
      description:
        'Basic-auth password for /admin/queues; without both, no dashboard. Setting only one of the two is a ' +
        'configuration error; the API logs at start-up whether the dashboard is mounted.',
    }),
  ),
  // Bulk jobs (POST /jobs)
  MAX_BULK_DOCUMENTS: Int({
    default: 100_000,
    minimum: 1,
    description: 'Documents of one bulk job with one query (POST /jobs form 1); more answers 413.',
  }),
  MAX_BULK_REQUESTS: Int({
    default: 1_000,
    minimum: 1,
    description: 'Reranks in one bulk job of many requests (POST /jobs form 2), each within MAX_DOCUMENTS.',
  }),
  MAX_BULK_BODY_BYTES: Int({
    default: 64 * 1024 * 1024,
    minimum: 1024,
    description: 'Body limit of POST /jobs; 100,000 passages of ~500 bytes fit.',
  }),
  BULK_CHUNK_DOCUMENTS: Int({
    default: 1_000,
    minimum: 1,
    description:
      'Documents per chunk of a bulk job: the unit workers share, retry and report progress by. A chunk also ' +
      'closes at 1 Mi characters of text, so long documents make smaller chunks.',
  }),
  BULK_WORKER_CONCURRENCY: Int({
    default: 2,
    minimum: 1,
    maximum: 64,
    description:
      'Bulk chunks one worker runs at once, beside WORKER_CONCURRENCY /rerank jobs; two keep the engine busy ' +
      'between chunks. Interactive pairs always go first in the engine.',
  }),
  // Long documents (chunking)
  LONG_DOCUMENTS: Type.Union([Type.Literal('truncate'), Type.Literal('chunk')], {
    default: 'truncate',
    description:
      'Documents longer than a pair\'s window: truncate (score their start, as the seed did) or chunk (score ' +
      'overlapping windows, keep the best); requests may choose with long_documents.',
  }),
  CHUNK_OVERLAP_TOKENS: Int({
    default: 16,
    minimum: 0,
    maximum: 256,
    description: 'Tokens a window repeats from the end of the previous one (whole words), so no passage is split.',
  }),
  MAX_CHUNKS_PER_DOC: Int({
    default: 16,
    minimum: 1,
    maximum: 256,
    description: 'Windows per document at most when chunking; bounds the work a long document costs.',
  }),
  // Dashboard
  DASHBOARD_READ_ONLY: Type.Boolean({
    default: false,
    description: 'Bull Board without retry/clean/delete/pause (UI and its API); true in .env.production.',
  }),
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
      'Document text (MB, counted in characters) a worker holds at once across its jobs and bulk chunks; past it, ' +
      'it fetches no more until some end. Many small jobs run together; a job larger than this runs with what was ' +
      'already held.',
  }),
  TEST_HOOKS: Type.Boolean({
    default: false,
    description:
      'Tests only, never in production: the worker obeys markers in job queries (__test:crash__ kills the ' +
      'worker, __test:hold-mb=N__ holds N MB while the job runs) to test crash isolation and the memory cap.',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    {
      default: 'info',
      description:
        'pino log level. The start and stop lines (`api listening`, `worker ready`, `service stopped`, ...) are ' +
        'logged at info yet shown at every level but `silent`.',
    },
  ),
  // Webhooks (callback_url of bulk jobs)
  WEBHOOK_ALLOWED_HOSTS: Type.Optional(
    Type.String({
      pattern: '^\\s*[^\\s,]+(\\s*,\\s*[^\\s,]+)*\\s*$',
      description:
        'Comma-separated hosts a callback_url may name (`host` for any port, `host:port` for one). Unset: ' +
        'callback_url is refused and no webhook is ever called.',
    }),
  ),
  WEBHOOK_SECRET: Type.Optional(
    Type.String({
      minLength: 16,
      description:
        'HMAC-SHA256 key webhook bodies are signed with (X-Rerank-Signature); required with WEBHOOK_ALLOWED_HOSTS.',
    }),
  ),
  WEBHOOK_ATTEMPTS: Int({
    default: 5,
    minimum: 1,
    maximum: 20,
    description: 'Delivery attempts per webhook (network errors, timeouts, redirects, 429 and 5xx are retried).',
  }),
  WEBHOOK_BACKOFF_MS: Int({
    default: 1_000,
    minimum: 0,
    description: 'Delay before the first webhook retry; doubles each attempt (1+2+4+8 s with the defaults).',
  }),
  WEBHOOK_TIMEOUT_MS: Int({
    default: 5_000,
    minimum: 100,
    maximum: 60_000,
    description: 'Time one webhook attempt may take, connection to response headers.',
  }),
  // Deployment: container healthcheck and Redis Cluster
  WORKER_HEALTH_FILE: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'File the worker rewrites after each report it publishes; the worker image sets it and its HEALTHCHECK ' +
        'checks the file is younger than 3 heartbeats. Unset: no file.',
    }),
  ),
  REDIS_CLUSTER_NODES: Type.Optional(
    Type.String({
      pattern: '^[^\\s,:]+:\\d+(,[^\\s,:]+:\\d+)*$',
      description:
        'Redis Cluster seed nodes, host:port,host:port; when set, every connection is a cluster client and ' +
        'REDIS_URL must be unset. One reachable node is enough: the client discovers the rest.',
    }),
  ),
  // Hostile input and access control (docs/api.md "Access and limits").
  MAX_INFLIGHT_BODY_BYTES: Int({
    default: 32 * 1024 * 1024,
    minimum: 1024,
    description:
      'Request-body bytes the API holds at once (from arrival until the answer); beyond it new bodies get 503 ' +
      'with Retry-After before they are read. A held body costs up to ~5x its size in API memory; the default ' +
      'admits 2 maximum-size requests at once and keeps the API under 400 MB.',
  }),
  MAX_JSON_DEPTH: Int({
    default: 8,
    minimum: 2,
    maximum: 64,
    description: 'Deepest nesting of arrays/objects a JSON body may have (requests need 3); deeper is a 400 at once.',
  }),
  REQUEST_TIMEOUT_MS: Int({
    default: 30_000,
    minimum: 100,
    description: 'Time a client has to send a whole request (headers and body); then 408 and the connection closes.',
  }),
  API_KEYS: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Comma-separated API keys (`key` or `sha256:<hex>`, optionally `:scope+scope`); unset: the API is open.',
    }),
  ),
  RATE_LIMIT_MAX: Int({
    default: 0,
    minimum: 0,
    description: 'Requests per key (per IP when open) per window on protected routes; 0 turns rate limiting off.',
  }),
  RATE_LIMIT_WINDOW_MS: Int({ default: 60_000, minimum: 100, description: 'Window of RATE_LIMIT_MAX.' }),
  // Several models behind one API (docs/operations.md "Serving several models").
  SERVED_MODELS: Type.Optional(
    Type.String({
      pattern: '^[\\w.-]+(,[\\w.-]+)*$',
      description:
        'Comma-separated model names this deployment serves, the first being the default (its queue keeps the ' +
        'name "rerank"); unset: MODEL_NAME alone. Set the same list on the API and every worker.',
    }),
  ),
  MODEL_ALIASES: Type.Optional(
    Type.String({
      pattern: '^[^\\s,=]+=[\\w.-]+(,[^\\s,=]+=[\\w.-]+)*$',
      description:
        'Other names a request may give a served model, alias=model,alias=model (e.g. a Cohere model name); a ' +
        'hub id org/<served name> is accepted without one.',
    }),
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
  // Otherwise a maximum-size body could never be admitted.
  if (config.MAX_INFLIGHT_BODY_BYTES < config.MAX_BODY_BYTES) {
    throw new ConfigError(
      `Invalid configuration: MAX_INFLIGHT_BODY_BYTES=${config.MAX_INFLIGHT_BODY_BYTES} must be >= MAX_BODY_BYTES=${config.MAX_BODY_BYTES}`,
    );
  }
  if (config.REDIS_URL !== undefined && config.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('Invalid configuration: set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a cluster), not both');
  }
  // Dashboard: half a pair of credentials would silently leave /admin/queues unmounted.
  if ((config.DASHBOARD_USER === undefined) !== (config.DASHBOARD_PASSWORD === undefined)) {
    const [set, unset] = config.DASHBOARD_USER === undefined ? ['DASHBOARD_PASSWORD', 'DASHBOARD_USER'] : ['DASHBOARD_USER', 'DASHBOARD_PASSWORD'];
    throw new ConfigError(
      `Invalid configuration: ${set} is set but ${unset} is not; set both DASHBOARD_USER and DASHBOARD_PASSWORD to enable /admin/queues, or neither.`,
    );
  }
  if (config.WEBHOOK_ALLOWED_HOSTS && !config.WEBHOOK_SECRET) {
    throw new ConfigError('Invalid configuration: WEBHOOK_ALLOWED_HOSTS is set, so WEBHOOK_SECRET must be set too');
  }
  const frozen = Object.freeze({ ...config, MODEL_NAME: config.MODEL_NAME ?? defaultModelName(config) });
  checkAliases(frozen);
  return frozen;
}

/**
 * The model's name in job keys and metrics. Another ONNX file of the same directory (an int8 variant) scores
 * differently, so it gets its own name: identical requests must not share a job across variants.
 */
function defaultModelName(config: Pick<RawConfig, 'MODEL_DIR' | 'MODEL_FILE'>): string {
  const variant = basename(config.MODEL_FILE, '.onnx');
  return variant === 'model' ? basename(config.MODEL_DIR) : `${basename(config.MODEL_DIR)}-${variant}`;
}

/** An alias must name a served model, or requests using it would be refused as unknown. */
function checkAliases(config: Config): void {
  const served = servedModelNames(config);
  for (const model of modelAliases(config).values()) {
    if (!served.includes(model)) {
      throw new ConfigError(`Invalid configuration: MODEL_ALIASES maps to ${model}, which is not in SERVED_MODELS (${served.join(', ')})`);
    }
  }
}

/** For documentation and tests: every setting with its default and description. */
export function describeSettings(): { name: string; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]: [string, TSchema]) => ({
    name,
    default: schema.default,
    description: String(schema.description ?? ''),
  }));
}
