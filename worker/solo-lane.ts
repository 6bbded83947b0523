/**
 * Who may run at the same time inside one worker process. Ordinary jobs run side by side (shared); a job suspected
 * of killing workers runs alone (exclusive), so that if the process dies during its run, the blame is certain.
 * A waiting exclusive run goes before shared runs that arrive after it, so a suspect is never starved.
 */

type Grant = () => void;

export interface SoloLaneEvents {
  /** The first exclusive run is waiting: stop fetching jobs that would only queue behind it. */
  onExclusiveWanted?: () => void;
  /** No exclusive run is waiting or running any more. */
  onExclusiveDone?: () => void;
}

export class SoloLane {
  private sharedRunning = 0;
  private exclusiveRunning = false;
  private readonly exclusiveQueue: Grant[] = [];
  private readonly sharedQueue: Grant[] = [];

  constructor(private readonly events: SoloLaneEvents = {}) {}

  /** Exclusive runs waiting or running. */
  get exclusiveDemand(): number {
    return this.exclusiveQueue.length + (this.exclusiveRunning ? 1 : 0);
  }

  shared<T>(run: () => Promise<T>): Promise<T> {
    return this.enter(false, run);
  }

  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return this.enter(true, run);
  }

  private async enter<T>(exclusive: boolean, run: () => Promise<T>): Promise<T> {
    await this.acquire(exclusive);
    try {
      return await run();
    } finally {
      this.release(exclusive);
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (exclusive) {
      if (this.exclusiveDemand === 0) this.events.onExclusiveWanted?.();
      if (!this.exclusiveRunning && this.sharedRunning === 0 && this.exclusiveQueue.length === 0) {
        this.exclusiveRunning = true;
        return Promise.resolve();
      }
      return new Promise((grant) => this.exclusiveQueue.push(grant));
    }
    if (this.exclusiveDemand === 0) {
      this.sharedRunning += 1;
      return Promise.resolve();
    }
    return new Promise((grant) => this.sharedQueue.push(grant));
  }

  private release(exclusive: boolean): void {
    if (exclusive) {
      this.exclusiveRunning = false;
      if (this.exclusiveQueue.length === 0) this.events.onExclusiveDone?.();
    } else {
      this.sharedRunning -= 1;
    }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.exclusiveRunning) return;
    const nextExclusive = this.exclusiveQueue.shift();
    if (nextExclusive) {
      if (this.sharedRunning === 0) {
        this.exclusiveRunning = true;
        nextExclusive();
      } else {
        this.exclusiveQueue.unshift(nextExclusive);
      }
      return;
    }
    for (const grant of this.sharedQueue.splice(0)) {
      this.sharedRunning += 1;
      grant();
    }
  }
}
