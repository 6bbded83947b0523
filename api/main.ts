/**
 * API entry: load config, build the app, listen, and close gracefully (once) on SIGTERM / SIGINT: new requests get
 * 503 SHUTTING_DOWN with Retry-After, pending sync waits answer (result or 202), Redis closes, exit 0; a close
 * that takes longer than SHUTDOWN_GRACE_MS (at least API_MIN_GRACE_MS) exits 1.
 */
import { ConfigError, loadConfig } from '../shared/config.ts';
import { createLogger, lifecycleLogger } from '../shared/logger.ts';
import { onParentGone } from '../shared/parent.ts';
import { buildApp } from './app.ts';
import { listenOrExplain } from './listen.ts';

/** Closing the queue, the events stream and Redis takes a moment even with nothing in flight. */
const API_MIN_GRACE_MS = 5_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'api');
  const lifecycle = lifecycleLogger(logger);
  const app = await buildApp(config, { logger });
  // The one line listenOrExplain logged says it all; nothing is serving yet that a close would have to drain.
  if (!(await listenOrExplain(app, config))) process.exit(1);
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  lifecycle.info({ host: config.HOST, port }, 'api listening');

  let closing: Promise<void> | undefined;
  const shutdown = (signal: NodeJS.Signals | 'parent gone') => {
    closing ??= (async () => {
      const graceMs = Math.max(config.SHUTDOWN_GRACE_MS, API_MIN_GRACE_MS);
      lifecycle.info({ signal, graceMs }, 'api closing');
      setTimeout(() => {
        logger.error({ graceMs }, 'api close took longer than the grace; exiting');
        process.exit(1);
      }, graceMs).unref();
      try {
        await app.close();
        lifecycle.info('api closed');
        process.exit(0);
      } catch (error) {
        logger.error({ err: error }, 'api close failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  onParentGone(() => shutdown('parent gone'));
}

// Before the logger exists (a bad setting) or after it failed us: plain stderr, then a non-zero exit.
main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
