/**
 * The BullMQ Queues the API adds rerank jobs to (one per served model), on the shared producer connection, and
 * the ServedModels that picks one for a request.
 */
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import {
  createBulkQueue,
  defaultJobOptions,
  eventStreamOptions,
  keyPrefix,
  type RerankJobData,
  type RerankJobResult,
} from '../../shared/queue.ts';
import { rerankQueueName, servedModelNames } from '../../shared/served-models.ts';
import { listWorkerReports, reportTtlMs } from '../../shared/worker-registry.ts';
import { ServedModels } from '../services/served-models.ts';
import fp from 'fastify-plugin';
import { closeWithin } from './close.ts';

export type RerankQueue = Queue<RerankJobData, RerankJobResult>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The default model's queue. */
    rerankQueue: RerankQueue;
    /** Every served model's queue, by model name (the default's first). */
    rerankQueues: ReadonlyMap<string, RerankQueue>;
    servedModels: ServedModels;
    /** Bulk chunks and merges (POST /jobs); the dashboard lists it too. */
    bulkQueue: Queue;
  }
}

export const queuePlugin = fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const queues = new Map<string, RerankQueue>();
    for (const model of servedModelNames(config)) {
      const queue: RerankQueue = new Queue(rerankQueueName(config, model), {
        connection: app.redis,
        prefix: keyPrefix(config),
        defaultJobOptions: defaultJobOptions(config),
        streams: eventStreamOptions(config),
      });
      // Connection trouble is logged by the redis plugin; without a listener an 'error' event would crash us.
      queue.on('error', (error) => app.log.debug({ err: error, model }, 'queue error'));
      app.addHook('onClose', () => closeWithin(app, `queue ${queue.name}`, () => queue.close()));
      queues.set(model, queue);
    }
    const served = new ServedModels({
      config,
      queues,
      workerReports: () => listWorkerReports(app.redis, keyPrefix(config), reportTtlMs(config.WORKER_HEARTBEAT_MS)),
    });
    app.decorate('rerankQueues', queues);
    app.decorate('rerankQueue', queues.get(served.defaultName) as RerankQueue);
    app.decorate('servedModels', served);
    const bulkQueue = createBulkQueue(config, app.redis);
    bulkQueue.on('error', (error) => app.log.debug({ err: error }, 'bulk queue error'));
    app.decorate('bulkQueue', bulkQueue);
    app.addHook('onClose', () => closeWithin(app, 'bulk queue', () => bulkQueue.close()));
  },
  { name: 'queue', dependencies: ['redis'] },
);
