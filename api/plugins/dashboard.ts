/**
 * Bull Board at /admin/queues, only when DASHBOARD_USER and DASHBOARD_PASSWORD are both set. Basic auth is an
 * onRequest hook inside the dashboard's own encapsulated context, so it guards the board and nothing else.
 * It shows the queues it is given (app.ts passes every queue the API opens); DASHBOARD_READ_ONLY makes each one
 * read-only, which hides retry/clean/delete in the UI and refuses them in the board's own API.
 */
import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { ServiceError, errorBody } from '../../shared/errors.ts';
import { lifecycleLogger, type Logger } from '../../shared/logger.ts';

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

export interface DashboardOptions {
  config: Config;
  /** Every BullMQ queue the service uses, in the order the board lists them. */
  queues: readonly Queue[];
}

/** Encapsulated on purpose (not wrapped in fastify-plugin): the auth hook must not reach the API's routes. */
export async function dashboardPlugin(app: FastifyInstance, { config, queues }: DashboardOptions): Promise<void> {
  const { DASHBOARD_USER: user, DASHBOARD_PASSWORD: password, DASHBOARD_READ_ONLY: readOnlyMode } = config;
  // Said at every log level a profile ships with (a start-up line): a dashboard that is not there is easy to miss.
  const lifecycle = lifecycleLogger(app.log as Logger);
  // loadConfig refuses one without the other, so here it is both or neither.
  if (!user || !password) {
    lifecycle.info({ path: BASE_PATH }, 'dashboard not mounted: DASHBOARD_USER and DASHBOARD_PASSWORD are not set');
    return;
  }
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BASE_PATH);
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode })), serverAdapter });
  app.addHook('onRequest', basicAuth(user, password));
  await app.register(serverAdapter.registerPlugin(), { prefix: BASE_PATH });
  lifecycle.info({ path: BASE_PATH, queues: queues.map((queue) => queue.name), readOnlyMode }, 'dashboard enabled');
}
