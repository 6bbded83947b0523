/**
 * Inference on a worker thread: the same logits as the session on the calling thread, the event loop free while
 * a batch runs, and clear failures once the thread is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { padBatch, type PaddedBatch } from '../../worker/engine/batcher.ts';
import { readModelDir } from '../../worker/engine/model-dir.ts';
import { ThreadedSession } from '../../worker/engine/session-thread.ts';
import { OnnxSession, type SessionOptions } from '../../worker/engine/session.ts';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../support/models.ts';

describe('ThreadedSession', () => {
  let options: SessionOptions;
  let direct: OnnxSession;
  let threaded: ThreadedSession;
  let batch: PaddedBatch;

  before(async () => {
    const model = await readModelDir(await ensureTestModel('tinybert', { realVocab: true }));
    options = { onnxPath: model.onnxPath, modelDir: model.dir, intraOpThreads: 1, cpuMemArena: true, spinning: false };
    [direct, threaded] = await Promise.all([OnnxSession.create(options), ThreadedSession.create(options)]);
    const tokenizer = await PairTokenizer.load({ tokenizerPath: model.tokenizerPath, modelDir: model.dir, maxLength: 64 });
    const docs = Array.from({ length: 256 }, (_, i) => `passage ${i} about tides, the moon and the sea `.repeat(8));
    const pairs = await tokenizer.encodePairs('what causes the tides', docs);
    batch = padBatch(pairs, pairs.map((_, i) => i), tokenizer.padId);
  });

  after(async () => {
    await Promise.all([direct?.release(), threaded?.release()]);
  });

  it('returns exactly the logits of the session on the calling thread', async () => {
    assert.deepEqual(threaded.inputNames, direct.inputNames);
    assert.deepEqual([...(await threaded.run(batch))], [...(await direct.run(batch))]);
  });

  it('leaves the event loop free while a batch runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = performance.now();
    await threaded.run(batch);
    const elapsedMs = performance.now() - started;
    clearInterval(timer);
    // A 256 x 64 batch takes tens of ms; on the calling thread the timer could not fire during it at all.
    assert.ok(ticks >= Math.min(3, elapsedMs / 10), `${ticks} timer ticks in ${elapsedMs.toFixed(0)} ms`);
  });

  it('fails a bad graph at load with MODEL_INVALID, and runs after release with INFERENCE_FAILED', async () => {
    await assert.rejects(ThreadedSession.create({ ...options, onnxPath: `${options.onnxPath}.missing` }), { code: 'MODEL_INVALID' });
    const doomed = await ThreadedSession.create(options);
    await doomed.release();
    await assert.rejects(doomed.run(batch), { code: 'INFERENCE_FAILED' });
  });
});
