/** Closing shared resources in onClose hooks. */
import type { FastifyInstance } from 'fastify';

/** Close steps must not hang shutdown when Redis is gone, nor stop the steps after them when they fail. */
export async function closeWithin(
  app: FastifyInstance,
  what: string,
  close: () => Promise<unknown>,
  timeoutMs = 3_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    if ((await Promise.race([close(), timeout])) === 'timeout') app.log.warn({ what, timeoutMs }, 'close timed out');
  } catch (error) {
    app.log.warn({ what, err: error }, 'close failed');
  } finally {
    clearTimeout(timer);
  }
}
