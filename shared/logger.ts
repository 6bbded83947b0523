/** The service's one pino configuration: JSON lines to stdout, no progress bars, level from config. */
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino({ name, level: config.LOG_LEVEL, base: { pid: process.pid } });
}
