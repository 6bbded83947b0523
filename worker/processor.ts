/**
 * One job: check its data, score it with the engine, return the result with where the time went. Bad data can
 * never succeed, so it fails without retries; an inference error may be transient, so BullMQ retries it.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../shared/logger.ts';
import { round1 } from '../shared/figures.ts';
import { documentsListOf, type DocumentsList } from '../shared/job-documents.ts';
import { formatFailure, type RerankJobData, type RerankJobResult } from '../shared/queue.ts';
import { inlineScores } from '../shared/results.ts';
import type { RerankEngine, ScoreTimings } from './engine/index.ts';
import type { StageTimings, WorkerStats } from './stats.ts';

export interface ProcessorOptions {
  engine: Pick<RerankEngine, 'score'>;
  workerId: string;
  /** This worker's model (MODEL_NAME), the one the API puts in job data and dedupe keys: jobs for another fail. */
  model: string;
  stats: WorkerStats;
  /** One line per completed job, with its sizes and stage timings. */
  logger: Logger;
  /** Stores a job's scores where the API reads them (shared/results.ts: a key per job, kept with the job). */
  storeScores(jobId: string, scores: readonly number[]): Promise<void>;
  /** Reads the documents of a job that keeps them in a list (shared/job-documents.ts); undefined when gone. */
  readDocuments(list: DocumentsList): Promise<string[] | undefined>;
}

/** The fields of a BullMQ job the processor reads; tests pass plain objects. */
export type ProcessableJob = Pick<Job<unknown>, 'id' | 'data' | 'timestamp' | 'processedOn'>;

type ScoredInput = Pick<RerankJobData, 'query' | 'documents' | 'raw' | 'chunk'>;

/** Why the data cannot be scored, or undefined when its shape is right. */
export function jobDataProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'job data must be an object';
  const { query, documents, documentsList, raw, chunk } = data as Record<string, unknown>;
  if (typeof query !== 'string') return 'query must be a string';
  const problem = documentsList === undefined ? inlineDocumentsProblem(documents) : listProblem(data, documents);
  if (problem !== undefined) return problem;
  if (typeof raw !== 'boolean') return 'raw must be a boolean';
  if (chunk !== undefined && !isChunkOptions(chunk)) return 'chunk must be {overlapTokens, maxChunks} (integers)';
  return undefined;
}

function inlineDocumentsProblem(documents: unknown): string | undefined {
  if (!Array.isArray(documents)) return 'documents must be an array of strings';
  const bad = documents.findIndex((document) => typeof document !== 'string');
  return bad === -1 ? undefined : `documents[${bad}] must be a string`;
}

/** A job whose documents are in a list has no `documents` field (shared/job-documents.ts says why). */
function listProblem(data: object, documents: unknown): string | undefined {
  if (!documentsListOf(data)) return 'documentsList must be {key, count, chars}';
  return documents === undefined ? undefined : 'documents and documentsList cannot both be given';
}

function isChunkOptions(value: unknown): boolean {
  const { overlapTokens, maxChunks } = (value ?? {}) as Record<string, unknown>;
  const atLeast = (n: unknown, min: number) => Number.isInteger(n) && (n as number) >= min;
  return atLeast(overlapTokens, 0) && atLeast(maxChunks, 1);
}

export function createProcessor(options: ProcessorOptions): (job: ProcessableJob) => Promise<RerankJobResult> {
  const { engine, workerId, model, stats, logger, storeScores, readDocuments } = options;
  const documentsFrom = async (list: DocumentsList): Promise<string[]> => {
    const documents = await readDocuments(list);
    // Only a list deleted or expired under a job that still waited (see ORPHAN_TTL_SECONDS) comes back short.
    if (documents) return documents;
    stats.failed += 1;
    throw new UnrecoverableError(formatFailure('INVALID_JOB_DATA', 'its documents are no longer in Redis'));
  };
  return async (job) => {
    const problem = jobDataProblem(job.data);
    if (problem !== undefined) {
      stats.failed += 1;
      throw new UnrecoverableError(formatFailure('INVALID_JOB_DATA', problem));
    }
    const requested = (job.data as { model?: unknown }).model;
    if (requested !== undefined && requested !== model) {
      // Scores of another model under this one's job id would be wrong answers, not errors: refuse, no retries.
      stats.failed += 1;
      throw new UnrecoverableError(formatFailure('WRONG_MODEL', `job for model ${String(requested)}; this worker serves ${model}`));
    }
    const started = performance.now();
    const { query, documents: inlineDocuments, raw, chunk } = job.data as ScoredInput;
    // processedOn is when BullMQ handed the job to this attempt; after a retry the wait includes the backoff.
    const queueMs = Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp);
    // Before the try: a missing list is its own failure, not an inference error; a Redis error is retried.
    const list = documentsListOf(job.data);
    const documents = list ? await documentsFrom(list) : inlineDocuments;
    stats.active += 1;
    try {
      const { scores, timings, longDocuments } = await engine.score(query, documents, { raw, chunk });
      await storeScores(String(job.id), scores);
      const totalMs = queueMs + (performance.now() - started);
      const inline = inlineScores(scores);
      const stages = { queue: queueMs, tokenize: timings.tokenizeMs, inference: timings.inferenceMs, total: totalMs };
      stats.recordCompleted(stages, documents.length);
      logJob(logger, { jobId: job.id, workerId, documents: documents.length, stages, timings });
      return {
        count: scores.length,
        model,
        workerId,
        timings: { queueMs, tokenizeMs: timings.tokenizeMs, inferenceMs: timings.inferenceMs },
        tokens: timings.tokens,
        longDocuments,
        // Small jobs' scores ride in the 'completed' event too: the waiting API needs no read of the result key.
        ...(inline === undefined ? {} : { inlineScores: inline }),
      };
    } catch (error) {
      stats.failed += 1;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(formatFailure('INFERENCE_FAILED', reason), { cause: error });
    } finally {
      stats.active -= 1;
    }
  };
}

interface JobLogFields {
  jobId: string | undefined;
  workerId: string;
  documents: number;
  stages: StageTimings;
  timings: Pick<ScoreTimings, 'batches' | 'tokens'>;
}

function logJob(logger: Logger, { jobId, workerId, documents, stages, timings }: JobLogFields): void {
  logger.info(
    {
      jobId,
      workerId,
      documents,
      // One (query, document) pair per document.
      pairs: documents,
      queueMs: round1(stages.queue),
      tokenizeMs: round1(stages.tokenize),
      inferenceMs: round1(stages.inference),
      totalMs: round1(stages.total),
      batches: timings.batches,
      tokens: timings.tokens,
    },
    'job completed',
  );
}
