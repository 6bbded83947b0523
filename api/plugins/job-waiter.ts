/**
 * The process's one QueueEvents (on its own blocking connection) feeding one JobWaiter. Before the app closes,
 * pending waits are released as timeouts so their requests answer 202 instead of holding shutdown up.
 */
import { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { QUEUE_NAME, keyPrefix, redisOptions, redisUrl, type RerankJobResult } from '../../shared/queue.ts';
import { JobWaiter } from '../services/job-waiter.ts';
import fp from 'fastify-plugin';
import { closeWithin } from './close.ts';

declare module 'fastify' {
  interface FastifyInstance {
    jobWaiter: JobWaiter;
  }
}

export const jobWaiterPlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const events = new QueueEvents<RerankJobResult>(QUEUE_NAME, {
      connection: { ...redisOptions('blocking'), url: redisUrl(config) },
      prefix: keyPrefix(config),
    });
    events.on('error', (error) => app.log.debug({ err: error }, 'queue events error'));
    const waiter = new JobWaiter(events);
    // Completion events may be missed while Redis is away: tell waiting clients now rather than at their timeout.
    app.redis.on('close', () => waiter.releaseAll({ status: 'unavailable' }));
    app.decorate('jobWaiter', waiter);
    app.addHook('preClose', async () => waiter.close());
    // While Redis is away BullMQ's close waits for an 'end' its stopped client never emits; nothing is left
    // running by then, so do not hold shutdown up for it.
    app.addHook('onClose', () =>
      closeWithin(app, 'queue events', () => events.close(), app.redis.status === 'ready' ? 3_000 : 100),
    );
  },
  { name: 'job-waiter', dependencies: ['redis'] },
);
