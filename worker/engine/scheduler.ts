/**
 * One inference loop per engine, fed by every score() call in flight. Each call hands over its tokenized pairs;
 * the loop takes a round of pending pairs from the calls in turn (at most `roundSize` pairs, each call giving
 * what it has up to what is left), length-sorts the round into batches by token budget and max rows (batcher.ts),
 * runs them one at a time and writes each logit back to its call's scores in input order. So small concurrent
 * calls share batches, and a small call arriving behind a large one gets into the next round, not after it.
 *
 * A batch that fails fails the calls with rows in it, and only those; their other rows are dropped unrun.
 */
import { padBatch, planBatches, type BatchPlanOptions, type PaddedBatch } from './batcher.ts';
import { scatterScores } from './scorer.ts';
import type { EncodedPair } from './tokenizer.ts';
import type { ScoreResult, ScoreTimings } from './types.ts';

export interface SchedulerOptions extends BatchPlanOptions {
  /** Pairs taken into one round; one call gives at most this many per round. */
  roundSize: number;
  /**
   * Rows of a round of bulk pairs only (one batch). session.run holds the event loop for a whole batch, so every
   * Redis round trip of an interactive job arriving meanwhile (fetch, result, completion) waits for one bulk
   * batch: small bulk batches keep that wait short.
   */
  bulkRows: number;
  padId: number;
  /** Runs one padded batch, returning one logit per row (OnnxSession.run). */
  run(batch: PaddedBatch): Promise<Float32Array>;
}

interface Row {
  call: ScheduledCall;
  /** Position of the document in its call's input. */
  index: number;
  pair: EncodedPair;
}

/** One score() call as the scheduler sees it; the producer pushes tokenized chunks into it. */
export class ScheduledCall {
  readonly timings: ScoreTimings = { tokenizeMs: 0, inferenceMs: 0, batches: 0, tokens: 0, batchRows: 0 };
  readonly result: Promise<ScoreResult>;
  private readonly scores: number[];
  private pending: Row[] = [];
  private head = 0;
  private unscored: number;
  private settledFlag = false;
  private drainWaiters: Array<() => void> = [];
  private resolve!: (result: ScoreResult) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly scheduler: BatchScheduler,
    count: number,
    private readonly raw: boolean,
    /** Bulk calls yield to interactive ones (see takeRound). */
    readonly bulk = false,
  ) {
    this.scores = new Array<number>(count).fill(Number.NaN);
    this.unscored = count;
    this.result = new Promise<ScoreResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (count === 0) this.finish();
  }

  /** True once the call has resolved or rejected; the producer stops feeding it. */
  get settled(): boolean {
    return this.settledFlag;
  }

  get pendingCount(): number {
    return this.pending.length - this.head;
  }

  /** Queues the pairs of documents start, start + 1, ... for inference. */
  push(start: number, pairs: readonly EncodedPair[]): void {
    if (this.settledFlag || pairs.length === 0) return;
    pairs.forEach((pair, k) => this.pending.push({ call: this, index: start + k, pair }));
    this.scheduler.ready(this);
  }

  /** Resolves once every pushed pair has been taken into a round (or the call has settled). */
  drained(): Promise<void> {
    if (this.settledFlag || this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Rejects the call with `error` unless it has settled already; drops its pending pairs. */
  fail(error: unknown): void {
    if (this.settledFlag) return;
    this.settledFlag = true;
    this.pending = [];
    this.head = 0;
    this.wakeDrainWaiters();
    this.reject(error);
  }

  /** Removes and returns up to `max` pending rows, oldest first. */
  take(max: number): Row[] {
    const end = Math.min(this.pending.length, this.head + max);
    const rows = this.pending.slice(this.head, end);
    this.head = end;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
      this.wakeDrainWaiters();
    }
    return rows;
  }

  /** Records one batch this call took part in with `rows` of its own, out of `batchRows`. */
  record(rows: Row[], logits: Float32Array, positions: number[], batchMs: number, batchRows: number): void {
    if (this.settledFlag) return;
    this.timings.inferenceMs += (batchMs * rows.length) / batchRows;
    this.timings.batches += 1;
    this.timings.batchRows += batchRows;
    const own = positions.map((position) => logits[position] as number);
    scatterScores(own, rows.map((row) => row.index), this.scores, this.raw);
    for (const row of rows) this.timings.tokens += row.pair.ids.length;
    this.unscored -= rows.length;
    if (this.unscored === 0) this.finish();
  }

  private finish(): void {
    this.settledFlag = true;
    this.wakeDrainWaiters();
    this.resolve({ scores: this.scores, timings: this.timings });
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

export class BatchScheduler {
  /** Calls with pending pairs, in turn order. */
  private readonly queue: ScheduledCall[] = [];
  private looping = false;

  constructor(private readonly options: SchedulerOptions) {}

  /** Registers one score() call of `count` documents; it resolves once all of them are scored. */
  open(count: number, raw: boolean, bulk = false): ScheduledCall {
    return new ScheduledCall(this, count, raw, bulk);
  }

  /** Called by a call that has pending pairs; starts the loop if idle. */
  ready(call: ScheduledCall): void {
    if (!this.queue.includes(call)) this.queue.push(call);
    if (this.looping) return;
    this.looping = true;
    // One turn of the event loop first, so that calls arriving together share the first round.
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      for (let round = this.takeRound(); round.length > 0; round = this.takeRound()) {
        // runBatch fails the calls of a failed batch itself; this only guards against a bug leaving calls hanging.
        await this.runRound(round).catch((error: unknown) => round.forEach((row) => row.call.fail(error)));
      }
    } finally {
      this.looping = false;
    }
  }

  /**
   * Up to roundSize rows, taking from each queued call once, in turn; a call with rows left goes to the back.
   * Interactive calls first: while any has rows pending, the round takes no bulk rows (mixed in, they would be
   * length-sorted into every batch of the round); a bulk-only round is one small batch (bulkRows), so that an
   * interactive call arriving meanwhile waits for at most that batch.
   */
  private takeRound(): Row[] {
    const interactive = this.queue.some((call) => !call.bulk && !call.settled && call.pendingCount > 0);
    const size = interactive ? this.options.roundSize : this.options.bulkRows;
    const rows: Row[] = [];
    for (let visits = this.queue.length; visits > 0 && rows.length < size; visits--) {
      const call = this.queue.shift() as ScheduledCall;
      if (call.settled) continue;
      if (!(interactive && call.bulk)) rows.push(...call.take(size - rows.length));
      if (call.pendingCount > 0) this.queue.push(call);
    }
    return rows;
  }

  private async runRound(rows: Row[]): Promise<void> {
    const lengths = rows.map((row) => row.pair.ids.length);
    for (const indices of planBatches(lengths, this.options)) {
      // Rows of calls that failed in an earlier batch of this round are not worth running.
      const batch = indices.map((i) => rows[i] as Row).filter((row) => !row.call.settled);
      if (batch.length > 0) await this.runBatch(batch);
    }
  }

  private async runBatch(batch: Row[]): Promise<void> {
    const byCall = new Map<ScheduledCall, { rows: Row[]; positions: number[] }>();
    batch.forEach((row, position) => {
      const entry = byCall.get(row.call) ?? { rows: [], positions: [] };
      entry.rows.push(row);
      entry.positions.push(position);
      byCall.set(row.call, entry);
    });
    let logits: Float32Array;
    const t0 = performance.now();
    try {
      const pairs = batch.map((row) => row.pair);
      logits = await this.options.run(padBatch(pairs, pairs.map((_, i) => i), this.options.padId));
      if (logits.length !== batch.length) throw new RangeError(`${logits.length} logits for ${batch.length} rows`);
    } catch (error) {
      for (const call of byCall.keys()) call.fail(error);
      return;
    }
    const ms = performance.now() - t0;
    for (const [call, { rows, positions }] of byCall) call.record(rows, logits, positions, ms, batch.length);
  }
}
