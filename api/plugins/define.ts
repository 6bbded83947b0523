/**
 * What fastify-plugin does, without the dependency: a plugin marked this way decorates the app it is registered
 * on (no encapsulation), carries a name, and Fastify checks at start-up that the plugins it names came first.
 */
import type { FastifyInstance } from 'fastify';

export interface PluginMeta {
  name: string;
  dependencies?: string[];
}

export function definePlugin<Options>(
  plugin: (app: FastifyInstance, options: Options) => Promise<void>,
  meta: PluginMeta,
): (app: FastifyInstance, options: Options) => Promise<void> {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: meta.name,
    [Symbol.for('plugin-meta')]: meta,
  });
}

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
