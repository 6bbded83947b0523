/** The BullMQ Queue the API adds rerank jobs to, on the shared producer connection. */
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import {
  BULK_QUEUE_NAME,
  QUEUE_NAME,
  defaultJobOptions,
  eventStreamOptions,
  keyPrefix,
  type RerankJobData,
  type RerankJobResult,
} from '../../shared/queue.ts';
import fp from 'fastify-plugin';
import { closeWithin } from './close.ts';

export type RerankQueue = Queue<RerankJobData, RerankJobResult>;

declare module 'fastify' {
  interface FastifyInstance {
    rerankQueue: RerankQueue;
    /** Bulk chunks and merges (POST /jobs); the dashboard lists it too. */
    bulkQueue: Queue;
  }
}

export const queuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const queue: RerankQueue = new Queue(QUEUE_NAME, {
      connection: app.redis,
      prefix: keyPrefix(config),
      defaultJobOptions: defaultJobOptions(config),
      streams: eventStreamOptions(config),
    });
    // Connection trouble is logged by the redis plugin; without a listener an 'error' event would crash us.
    queue.on('error', (error) => app.log.debug({ err: error }, 'queue error'));
    app.decorate('rerankQueue', queue);
    app.addHook('onClose', () => closeWithin(app, 'queue', () => queue.close()));
    const bulkQueue = new Queue(BULK_QUEUE_NAME, {
      connection: app.redis,
      prefix: keyPrefix(config),
      defaultJobOptions: defaultJobOptions(config),
      streams: eventStreamOptions(config),
    });
    bulkQueue.on('error', (error) => app.log.debug({ err: error }, 'bulk queue error'));
    app.decorate('bulkQueue', bulkQueue);
    app.addHook('onClose', () => closeWithin(app, 'bulk queue', () => bulkQueue.close()));
  },
  { name: 'queue', dependencies: ['redis'] },
);
