/**
 * The ONNX session on a worker thread. onnxruntime-node 1.30 runs `session.run` synchronously on the calling
 * thread: on the main thread every batch blocks the event loop, so Redis replies, lock renewals, job fetches and
 * the pure-TypeScript tokenizer all wait for it. Here the main thread only posts padded batches and receives
 * logits, and tokenizes the next chunk meanwhile (BENCHMARKS.md, "Inference on a worker thread": 1.7x the pairs/s
 * of eight concurrent calls, event-loop lag p50 ~1 ms instead of 26-58 ms). The session is session.ts's, loaded
 * inside the thread, so session.ts stays the only file that imports onnxruntime.
 */
import { Worker } from 'node:worker_threads';
import type { PaddedBatch } from './batcher.ts';
import type { BatchRunner, SessionOptions } from './session.ts';
import { EngineError } from './types.ts';

/** The thread runs TypeScript like the rest of the worker: tsx's loader is registered inside it first. */
const THREAD_MAIN = new URL('./session-thread-main.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');
const THREAD_BOOT = `import(${JSON.stringify(TSX_API)}).then(({ register }) => { register(); return import(${JSON.stringify(THREAD_MAIN)}); })`;

/** Messages from the thread: the load outcome first, then one reply per batch. */
export type ThreadMessage =
  | { kind: 'loaded'; inputNames: BatchRunner['inputNames'] }
  | { kind: 'load-failed'; message: string }
  | { kind: 'logits'; id: number; logits: Float32Array }
  | { kind: 'run-failed'; id: number; message: string };

interface Pending {
  resolve(logits: Float32Array): void;
  reject(error: Error): void;
}

export class ThreadedSession implements BatchRunner {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Set once the thread is gone (released, or died): every run after it fails at once. */
  private gone: string | undefined;
  private releasing: Promise<void> | undefined;

  private constructor(
    private readonly thread: Worker,
    readonly inputNames: BatchRunner['inputNames'],
  ) {
    thread.on('message', (message: ThreadMessage) => this.settle(message));
    thread.on('error', (error) => this.failAll(`the inference thread failed: ${error.message}`));
    thread.on('exit', () => this.failAll('the inference thread exited'));
  }

  /** Loads the model in a new thread; load errors are MODEL_INVALID, as with OnnxSession.create. */
  static async create(options: SessionOptions): Promise<ThreadedSession> {
    const thread = new Worker(THREAD_BOOT, { eval: true, workerData: options });
    const first = await new Promise<ThreadMessage>((resolve) => {
      thread.once('message', resolve);
      thread.once('error', (error) => resolve({ kind: 'load-failed', message: error.message }));
    });
    if (first.kind !== 'loaded') {
      await thread.terminate();
      throw new EngineError('MODEL_INVALID', first.kind === 'load-failed' ? first.message : 'the inference thread did not load');
    }
    return new ThreadedSession(thread, first.inputNames);
  }

  run(batch: PaddedBatch): Promise<Float32Array> {
    if (this.gone) return Promise.reject(new EngineError('INFERENCE_FAILED', `Inference session is closed (${this.gone})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ id, batch });
    });
  }

  /** Stops the thread (which frees its session); idempotent. */
  release(): Promise<void> {
    this.gone ??= 'released';
    this.releasing ??= this.thread.terminate().then(() => undefined);
    return this.releasing;
  }

  private settle(message: ThreadMessage): void {
    if (message.kind !== 'logits' && message.kind !== 'run-failed') return;
    const pending = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (message.kind === 'logits') pending?.resolve(message.logits);
    else pending?.reject(new EngineError('INFERENCE_FAILED', message.message));
  }

  private failAll(reason: string): void {
    this.gone ??= reason;
    for (const pending of this.pending.values()) pending.reject(new EngineError('INFERENCE_FAILED', reason));
    this.pending.clear();
  }
}
