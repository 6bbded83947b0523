/** The service's one pino configuration: JSON lines to stdout, no progress bars, level from config. */
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino({ name, level: config.LOG_LEVEL, base: { pid: process.pid } });
}

/**
 * For the lines that say a process started or stopped. They are info lines, yet shown at every level but
 * `silent`: a profile that logs problems only (`.env.minimal`, warn) must still say that the service is up and
 * that it stopped.
 */
export function lifecycleLogger(logger: Logger): Logger {
  if (logger.level === 'silent' || logger.isLevelEnabled('info')) return logger;
  return logger.child({}, { level: 'info' });
}
