/**
 * Charges worker crashes to the job that caused them, and only to it.
 *
 * When a worker process dies, every job it held stalls and comes back (BullMQ's stalled check). Those jobs are
 * suspects, not culprits: a suspect (stalledCounter > 0) runs alone in its next worker (see solo-lane.ts). Before
 * such a solo run, a marker is written on the job's hash; a clean end of the run (completed, failed, handed back)
 * removes it. A suspect that arrives with the marker still set was running alone when its worker died: that is a
 * crash it caused, counted on the same hash. At WORKER_CRASH_LIMIT crashes the job fails with WORKER_CRASHED.
 * Jobs that were merely active beside it carry no marker and are never charged.
 *
 * The fields live on BullMQ's own job hash, so they go when the job is removed (retention, or a failed job
 * replaced by a new request).
 */
import type { RedisClient } from '../shared/queue.ts';

const SOLO_MARKER = 'rqSoloRun';
const CRASHES = 'rqCrashes';

/**
 * KEYS[1] job hash; ARGV[1] who runs it, ARGV[2] crash limit. Returns the crashes charged so far; sets the marker
 * only when the job may run again. -1 when the job is gone.
 */
const BEGIN_SOLO = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local crashes = tonumber(redis.call('HGET', KEYS[1], '${CRASHES}') or '0')
if redis.call('HEXISTS', KEYS[1], '${SOLO_MARKER}') == 1 then
  crashes = redis.call('HINCRBY', KEYS[1], '${CRASHES}', 1)
end
if crashes >= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], '${SOLO_MARKER}')
else
  redis.call('HSET', KEYS[1], '${SOLO_MARKER}', ARGV[1])
end
return crashes`;

/** KEYS[1] job hash, ARGV[1] who ran it: its solo run ended without killing its worker. Never another's marker. */
const END_SOLO = `
if redis.call('HGET', KEYS[1], '${SOLO_MARKER}') == ARGV[1] then redis.call('HDEL', KEYS[1], '${SOLO_MARKER}') end
return 0`;

export interface CrashGuardOptions {
  redis: RedisClient;
  /** The BullMQ key prefix, `{QUEUE_PREFIX}`. */
  prefix: string;
  /** The queue the guarded jobs are in (each served model has its own: rerankQueueName). */
  queueName: string;
  workerId: string;
  limit: number;
}

export class CrashGuard {
  constructor(private readonly options: CrashGuardOptions) {}

  get limit(): number {
    return this.options.limit;
  }

  /** Crashes this job has caused so far (counting the run that just ended, if its worker died during it). */
  async beginSolo(jobId: string): Promise<number> {
    const { redis, workerId, limit } = this.options;
    return Number(await redis.eval(BEGIN_SOLO, 1, this.jobKey(jobId), workerId, limit));
  }

  async endSolo(jobId: string): Promise<void> {
    await this.options.redis.eval(END_SOLO, 1, this.jobKey(jobId), this.options.workerId);
  }

  private jobKey(jobId: string): string {
    return `${this.options.prefix}:${this.options.queueName}:${jobId}`;
  }
}
