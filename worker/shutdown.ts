/**
 * Graceful close as a list of named steps. Every step runs even if an earlier one failed (a Redis error must not
 * leave the model loaded or a connection open), and calling close again returns the first call's promise.
 */
import type { Logger } from '../shared/logger.ts';

export interface CloseStep {
  name: string;
  run: () => Promise<unknown> | unknown;
}

/** Returns an idempotent close that resolves true when every step succeeded. */
export function closeInSteps(steps: readonly CloseStep[], logger: Logger): () => Promise<boolean> {
  let closing: Promise<boolean> | undefined;
  const runAll = async () => {
    let ok = true;
    for (const step of steps) {
      try {
        await step.run();
      } catch (error) {
        ok = false;
        logger.error({ err: error, step: step.name }, 'close step failed; continuing');
      }
    }
    return ok;
  };
  return () => {
    closing ??= runAll();
    return closing;
  };
}

/** Waits for every one of `work` to settle (none is left running behind a failure), then throws the first failure. */
export async function settleAll(work: ReadonlyArray<Promise<unknown> | undefined>): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}
