/**
 * While Redis is away BullMQ emits the same connection error on every reconnect attempt of each of its
 * connections; logging each one would bury everything else. The same message is logged at most once a window,
 * with the number of repeats suppressed since.
 */
import type { Logger } from '../shared/logger.ts';

export const ERROR_LOG_WINDOW_MS = 30_000;

export function throttledErrorLog(logger: Logger, msg: string, windowMs = ERROR_LOG_WINDOW_MS): (error: Error) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (error) => {
    const now = Date.now();
    const seen = last.get(error.message);
    if (seen && now - seen.at < windowMs) {
      seen.suppressed += 1;
      return;
    }
    last.set(error.message, { at: now, suppressed: 0 });
    logger.error({ err: error, suppressed: seen?.suppressed ?? 0 }, msg);
  };
}
