/**
 * Bull Board at /admin/queues, only when DASHBOARD_USER and DASHBOARD_PASSWORD are both set. Basic auth is an
 * onRequest hook inside the dashboard's own encapsulated context, so it guards the board and nothing else.
 */
import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError, errorBody } from '../../shared/errors.ts';

const BASE_PATH = '/admin/queues';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function basicAuth(user: string, password: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const match = request.headers.authorization?.match(/^Basic ([A-Za-z0-9+/=]+)$/i);
    const decoded = match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0 && sameSecret(decoded.slice(0, colon), user) && sameSecret(decoded.slice(colon + 1), password)) {
      return;
    }
    return reply
      .code(401)
      .header('WWW-Authenticate', 'Basic realm="rerank-queue dashboard", charset="UTF-8"')
      .send(errorBody(new ServiceError('UNAUTHORIZED')));
  };
}

/** Encapsulated on purpose (not wrapped in fastify-plugin): the auth hook must not reach the API's routes. */
export async function dashboardPlugin(app: FastifyInstance, { config }: { config: Config }): Promise<void> {
  const { DASHBOARD_USER: user, DASHBOARD_PASSWORD: password } = config;
  if (!user || !password) return;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE_PATH);
  const queues = [app.rerankQueue, app.bulkQueue].map((queue) => new BullMQAdapter(queue, { readOnlyMode: false }));
  createBullBoard({ queues, serverAdapter });
  app.addHook('onRequest', basicAuth(user, password));
  await app.register(serverAdapter.registerPlugin(), { prefix: BASE_PATH });
  app.log.info({ path: BASE_PATH }, 'dashboard enabled');
}
