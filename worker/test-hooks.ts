/**
 * Test-only behaviour, active only with TEST_HOOKS=true (never in production): markers in a job's query make the
 * worker misbehave on purpose, so that crash isolation and the memory cap can be tested with real processes.
 *
 * - `__test:crash__`: the worker process kills itself with SIGKILL when it starts scoring the job, as a native
 *   crash or the OOM killer would: no cleanup, no lock released.
 * - `__test:hold-mb=N__`: N MB of real, touched memory are held while the job is scored, so that the worker's
 *   actual RSS (what the memory watchdog reads) rises by about N MB.
 */
import type { ProcessableJob } from './processor.ts';

const CRASH_MARKER = '__test:crash__';
const HOLD_MARKER = /__test:hold-mb=(\d+)__/;

export function withTestHooks<J extends ProcessableJob, R>(process: (job: J) => Promise<R>): (job: J) => Promise<R> {
  return async (job) => {
    const query = (job.data as { query?: unknown } | null)?.query;
    if (typeof query !== 'string') return process(job);
    if (query.includes(CRASH_MARKER)) globalThis.process.kill(globalThis.process.pid, 'SIGKILL');
    const holdMb = Number(query.match(HOLD_MARKER)?.[1] ?? 0);
    // Filled with a non-zero byte so every page is really resident.
    const held = holdMb > 0 ? Buffer.alloc(holdMb * 1024 * 1024, 1) : undefined;
    try {
      return await process(job);
    } finally {
      held?.fill(0, 0, 1); // keeps the buffer alive until the job has been scored
    }
  };
}
