/**
 * One QueueEvents per served model's queue (each on its own blocking connection), all feeding one JobWaiter (job
 * ids include the model, so they never collide across queues). Before the app closes,
 * pending waits are released as timeouts so their requests answer 202 instead of holding shutdown up.
 */
import { QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../shared/config.ts';
import { QUEUE_NAME, keyPrefix, queueEventsConnection, type RerankJobResult } from '../../shared/queue.ts';
import { rerankQueueName, servedModelNames } from '../../shared/served-models.ts';
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
    const allEvents = servedModelNames(config).map((model) => {
      const events = new QueueEvents<RerankJobResult>(rerankQueueName(config, model), {
        connection: queueEventsConnection(config),
        prefix: keyPrefix(config),
      });
      events.on('error', (error) => app.log.debug({ err: error, model }, 'queue events error'));
      return events;
    });
    const waiter = new JobWaiter(...allEvents);
    // Completion events may be missed while Redis is away: tell waiting clients now rather than at their timeout.
    app.redis.on('close', () => waiter.releaseAll({ status: 'unavailable' }));
    if (app.redis instanceof Cluster) watchQueueMaster(app, app.redis, config, waiter);
    app.decorate('jobWaiter', waiter);
    app.addHook('preClose', async () => waiter.close());
    // While Redis is away BullMQ's close waits for an 'end' its stopped client never emits; nothing is left
    // running by then, so do not hold shutdown up for it.
    for (const events of allEvents) {
      app.addHook('onClose', () =>
        closeWithin(app, `queue events ${events.name}`, () => events.close(), app.redis.status === 'ready' ? 3_000 : 100),
      );
    }
  },
  { name: 'job-waiter', dependencies: ['redis'] },
);

// Redis Cluster (deployment)

/**
 * On a cluster, losing a node does not close the client, so the 'close' above never comes. When any node drops
 * out, ask the master of the queue's slot (a read of a key under the prefix): if it does not answer, release the
 * waits as a lost connection does; if another shard went, nothing happens.
 */
function watchQueueMaster(app: FastifyInstance, cluster: Cluster, config: Config, waiter: JobWaiter): void {
  const probeKey = `${keyPrefix(config)}:${QUEUE_NAME}:meta`;
  cluster.on('-node', () => {
    // Not ready: requests are refused anyway and 'close' has released the waits. No waits: nothing to release.
    if (cluster.status !== 'ready' || waiter.size === 0) return;
    cluster.exists(probeKey).catch((error: unknown) => {
      app.log.warn({ err: error }, "redis cluster: the queue's master does not answer");
      waiter.releaseAll({ status: 'unavailable' });
    });
  });
}
