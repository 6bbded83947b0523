/**
 * The only file that imports onnxruntime-node: creates the session, feeds the inputs the graph declares and
 * returns one logit per row. Load failures are MODEL_INVALID, run failures INFERENCE_FAILED.
 *
 * Note: onnxruntime-node 1.30 runs `session.run` synchronously on the main thread (deferred by setImmediate);
 * the binding tokenizer overlaps it from libuv's pool, and the fast path is cheap enough to run in between.
 */
import * as ort from 'onnxruntime-node';
import type { PaddedBatch } from './batcher.ts';
import { modelFixHint } from './model-dir.ts';
import { EngineError } from './types.ts';

export interface SessionOptions {
  onnxPath: string;
  /** For the error message's fix hint. */
  modelDir: string;
  intraOpThreads: number;
  cpuMemArena: boolean;
  /**
   * Let idle intra-op threads busy-wait for the next parallel section. It takes CPU from the tokenizer threads
   * that run beside inference and from anything else on the machine (BENCHMARKS.md, "Intra-op spinning").
   */
  spinning: boolean;
}

/** Inputs this engine knows how to fill; a graph asking for anything else is not a BERT-style cross-encoder. */
const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
type KnownInput = (typeof KNOWN_INPUTS)[number];

/** What the scheduler and the engine need of a session: OnnxSession here, or ThreadedSession on a thread. */
export interface BatchRunner {
  readonly inputNames: readonly KnownInput[];
  run(batch: PaddedBatch): Promise<Float32Array>;
  release(): Promise<void>;
}

export class OnnxSession implements BatchRunner {
  private released = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly KnownInput[],
    private readonly outputName: string,
  ) {}

  static async create(options: SessionOptions): Promise<OnnxSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(options.onnxPath, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.intraOpThreads,
        // One graph, no parallel branches worth a second pool.
        interOpNumThreads: 1,
        enableCpuMemArena: options.cpuMemArena,
        // Memory patterns pay off for fixed shapes; batches here vary in rows and length, and with patterns on,
        // peak RSS was ~10 MB higher at no gain in speed (BENCHMARKS.md, "CPU memory arena").
        enableMemPattern: false,
        extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new EngineError(
        'MODEL_INVALID',
        `Cannot load ONNX graph ${options.onnxPath} (${reason}). ${modelFixHint(options.modelDir)}`,
        { cause: err },
      );
    }
    const unknown = session.inputNames.filter((n) => !(KNOWN_INPUTS as readonly string[]).includes(n));
    if (unknown.length > 0 || !session.inputNames.includes('input_ids') || session.outputNames.length === 0) {
      await session.release();
      throw new EngineError(
        'MODEL_INVALID',
        `ONNX graph ${options.onnxPath} has inputs [${session.inputNames.join(', ')}] and outputs ` +
          `[${session.outputNames.join(', ')}]; expected input_ids (+ attention_mask, token_type_ids) and a logits ` +
          `output. ${modelFixHint(options.modelDir)}`,
      );
    }
    const outputName = session.outputNames.includes('logits') ? 'logits' : (session.outputNames[0] as string);
    return new OnnxSession(session, session.inputNames as KnownInput[], outputName);
  }

  /** Runs one padded batch; returns one logit per row (the model must have a single output label). */
  async run(batch: PaddedBatch): Promise<Float32Array> {
    if (this.released) throw new EngineError('INFERENCE_FAILED', 'Inference session is closed');
    const dims = [batch.rows, batch.seqLen];
    const data: Record<KnownInput, BigInt64Array> = {
      input_ids: batch.inputIds,
      attention_mask: batch.attentionMask,
      token_type_ids: batch.tokenTypeIds,
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) feeds[name] = new ort.Tensor('int64', data[name], dims);
    let output: ort.Tensor | undefined;
    try {
      output = (await this.session.run(feeds, [this.outputName]))[this.outputName];
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new EngineError('INFERENCE_FAILED', `Inference failed on a [${dims.join(', ')}] batch: ${reason}`, {
        cause: err,
      });
    }
    if (!(output?.data instanceof Float32Array) || output.data.length !== batch.rows) {
      throw new EngineError(
        'INFERENCE_FAILED',
        `Output "${this.outputName}" has type ${output?.type} and shape [${output?.dims.join(', ')}]; ` +
          `expected float32 [${batch.rows}, 1] (one logit per pair)`,
      );
    }
    return output.data;
  }

  /** Frees the native session; idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
