/**
 * Cancellation reaches the chunks a worker is running through one Redis subscription: the API publishes the id of
 * a cancelled bulk job, and every active chunk of it aborts its engine call before the next batch. A chunk also
 * reads the job's status when it starts, so a cancel published before it subscribed is not missed.
 */
import type { RedisClient } from '../../shared/queue.ts';
import { cancelChannel } from '../../shared/bulk/store.ts';

export class CancelWatch {
  private readonly active = new Map<string, Set<AbortController>>();

  private constructor(private readonly subscriber: RedisClient) {}

  static async start(subscriber: RedisClient, prefix: string): Promise<CancelWatch> {
    const watch = new CancelWatch(subscriber);
    subscriber.on('message', (_channel: string, bulkId: string) => watch.abort(bulkId));
    await subscriber.subscribe(cancelChannel(prefix));
    return watch;
  }

  /** A signal that aborts when `bulkId` is cancelled; call release() when the chunk is done. */
  register(bulkId: string): { signal: AbortSignal; release(): void } {
    const controller = new AbortController();
    let controllers = this.active.get(bulkId);
    if (!controllers) this.active.set(bulkId, (controllers = new Set()));
    controllers.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        controllers.delete(controller);
        if (controllers.size === 0) this.active.delete(bulkId);
      },
    };
  }

  abort(bulkId: string): void {
    for (const controller of this.active.get(bulkId) ?? []) controller.abort();
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
