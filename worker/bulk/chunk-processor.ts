/**
 * One chunk of a bulk job: score its segments at bulk priority (interactive /rerank pairs go first in the engine),
 * store the scores in place in the job's scores key, and, when it was the last chunk to finish, queue the merge.
 * A chunk of a cancelled (or failed) job scores nothing, and one running when the job is cancelled stops before
 * its next batch; either way it completes as `skipped` and stores nothing.
 */
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { RedisClient } from '../../shared/queue.ts';
import { startBulkChunk, storeBulkChunk } from '../../shared/bulk/store.ts';
import { formatFailure, type BulkChunkData, type BulkChunkResult } from '../../shared/queue.ts';
import { encodeScores } from '../../shared/results.ts';
import { EngineError, type RerankEngine } from '../engine/index.ts';
import type { CancelWatch } from './cancel-watch.ts';

export interface ChunkContext {
  engine: Pick<RerankEngine, 'score'>;
  workerId: string;
  /** The model this worker serves (MODEL_NAME): a chunk for another one is refused, as /rerank jobs are. */
  model: string;
  redis: RedisClient;
  prefix: string;
  watch: Pick<CancelWatch, 'register'>;
  /** The bulk queue, where the merge job goes. */
  queue: Pick<Queue, 'add'>;
}

/** Why the chunk's data cannot be scored, or undefined when its shape is right. */
export function chunkDataProblem(data: Partial<BulkChunkData>): string | undefined {
  if (typeof data.bulkId !== 'string' || !Number.isInteger(data.chunk)) return 'bulkId and chunk are required';
  if (!Array.isArray(data.segments) || data.segments.length === 0) return 'segments must be a non-empty array';
  for (const segment of data.segments) {
    if (typeof segment.query !== 'string' || !Array.isArray(segment.documents) || !Number.isInteger(segment.offset)) {
      return 'each segment needs query, documents and offset';
    }
  }
  return undefined;
}

export async function processChunk(context: ChunkContext, job: Job<BulkChunkData>): Promise<BulkChunkResult> {
  const { redis, prefix, workerId } = context;
  const problem = chunkDataProblem(job.data);
  if (problem) throw new UnrecoverableError(formatFailure('INVALID_JOB_DATA', problem));
  if (job.data.model !== undefined && job.data.model !== context.model) {
    // Another model's scores under this job would be wrong answers, not errors (SERVED_MODELS differing between
    // the API and this worker): refuse, no retries.
    const reason = `chunk for model ${job.data.model}; this worker serves ${context.model}`;
    throw new UnrecoverableError(formatFailure('WRONG_MODEL', reason));
  }
  const { bulkId, chunk, segments, raw } = job.data;
  const skipped: BulkChunkResult = { pairs: 0, workerId, skipped: true };
  // Registered before the status is read: a cancel published after the read still aborts this chunk.
  const cancel = context.watch.register(bulkId);
  try {
    if ((await startBulkChunk(redis, prefix, bulkId)) !== 'active') return skipped;
    const options = { raw, priority: 'bulk' as const, signal: cancel.signal };
    const results = await Promise.all(
      segments.map((segment) => context.engine.score(segment.query, segment.documents, options)),
    );
    // Segments are consecutive pairs of the job, so the chunk's scores are one contiguous range.
    const scores = results.flatMap((result) => result.scores);
    const stored = await storeBulkChunk(redis, prefix, {
      id: bulkId,
      chunk,
      offset: segments[0]!.offset,
      scores: encodeScores(scores),
      pairs: scores.length,
      workerId,
    });
    if (stored.done === -1) return skipped;
    // Under the chunk's (readable) name; the job id makes the merge happen once even if two chunks of a retried
    // job both see the last count.
    if (stored.done === stored.chunks) await context.queue.add(job.name, { bulkId }, { jobId: bulkId });
    return { pairs: scores.length, workerId, skipped: false };
  } catch (error) {
    if (error instanceof EngineError && error.code === 'CANCELLED') return skipped;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(formatFailure('INFERENCE_FAILED', reason), { cause: error });
  } finally {
    cancel.release();
  }
}
