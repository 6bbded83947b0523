/** The BullMQ queue of webhook deliveries (shared/webhook-queue.ts), on the shared producer connection. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../shared/config.ts';
import { createWebhookQueue, type WebhookQueue } from '../../shared/webhook-queue.ts';
import { closeWithin } from './close.ts';

declare module 'fastify' {
  interface FastifyInstance {
    webhookQueue: WebhookQueue;
  }
}

export const webhookQueuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const queue = createWebhookQueue(config, app.redis);
    // Connection trouble is logged by the redis plugin; without a listener an 'error' event would crash us.
    queue.on('error', (error) => app.log.debug({ err: error }, 'webhook queue error'));
    app.decorate('webhookQueue', queue);
    app.addHook('onClose', () => closeWithin(app, 'webhook queue', () => queue.close()));
  },
  { name: 'webhook-queue', dependencies: ['redis'] },
);
