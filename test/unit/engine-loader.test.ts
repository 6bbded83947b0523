import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { EngineError, loadEngine, type EngineErrorCode } from '../../worker/engine/index.ts';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../support/models.ts';

const { onnx } = onnxProto;

/**
 * A graph without token_type_ids whose "logit" is the sum of the unmasked input ids, so the expected raw score
 * of every pair is known exactly: checks the feeds, the padding mask and the order of the results.
 */
function sumOfIdsGraph(): Uint8Array {
  const { INT64, FLOAT } = onnx.TensorProto.DataType;
  const io = (name: string, elemType: number, dims: string[]) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 11 }],
    graph: {
      name: 'sum_of_ids',
      node: [
        { opType: 'Mul', input: ['input_ids', 'attention_mask'], output: ['masked'] },
        { opType: 'Cast', input: ['masked'], output: ['masked_f'], attribute: [{ name: 'to', type: 2, i: FLOAT }] },
        {
          opType: 'ReduceSum',
          input: ['masked_f'],
          output: ['logits'],
          attribute: [
            { name: 'axes', type: 7, ints: [1] },
            { name: 'keepdims', type: 2, i: 1 },
          ],
        },
      ],
      input: [io('input_ids', INT64, ['batch', 'seq']), io('attention_mask', INT64, ['batch', 'seq'])],
      output: [io('logits', FLOAT, ['batch', 'one'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const FIX_FRAGMENTS = ['npm run model:fetch', 'npm run model:synthetic -- --arch tinybert --out'];

async function assertLoadFails(modelDir: string, code: EngineErrorCode, ...fragments: string[]): Promise<void> {
  await assert.rejects(loadEngine({ modelDir, intraOpThreads: 1 }), (err: unknown) => {
    assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const fragment of [...fragments, ...FIX_FRAGMENTS]) {
      assert.ok(err.message.includes(fragment), `message lacks "${fragment}": ${err.message}`);
    }
    return true;
  });
}

describe('loadEngine errors', () => {
  let validDir: string;
  let scratch: string;
  let copies = 0;
  /** A fresh copy of the valid model, to break one thing in. */
  async function copyModel(): Promise<string> {
    const dir = path.join(scratch, `model-${++copies}`);
    await cp(validDir, dir, { recursive: true });
    return dir;
  }

  before(async () => {
    validDir = await ensureTestModel('tiny');
    scratch = await mkdtemp(path.join(os.tmpdir(), 'engine-loader-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('missing directory -> MODEL_NOT_FOUND naming the path and the fix', async () => {
    const dir = path.join(scratch, 'no-such-model');
    await assertLoadFails(dir, 'MODEL_NOT_FOUND', dir, 'does not exist');
  });

  it('a file instead of a directory -> MODEL_NOT_FOUND', async () => {
    const file = path.join(scratch, 'a-file');
    await writeFile(file, 'x');
    await assertLoadFails(file, 'MODEL_NOT_FOUND', file, 'not a directory');
  });

  it('missing tokenizer.json -> MODEL_NOT_FOUND naming the file', async () => {
    const dir = await copyModel();
    await rm(path.join(dir, 'tokenizer.json'));
    await assertLoadFails(dir, 'MODEL_NOT_FOUND', dir, 'missing tokenizer.json');
  });

  it('missing onnx/model.onnx -> MODEL_NOT_FOUND naming the file', async () => {
    const dir = await copyModel();
    await rm(path.join(dir, 'onnx', 'model.onnx'));
    await assertLoadFails(dir, 'MODEL_NOT_FOUND', dir, path.join('onnx', 'model.onnx'));
  });

  it('corrupt onnx (truncated) -> MODEL_INVALID naming the file', async () => {
    const dir = await copyModel();
    const onnx = path.join(dir, 'onnx', 'model.onnx');
    await truncate(onnx, 1000);
    await assertLoadFails(dir, 'MODEL_INVALID', onnx);
  });

  it('corrupt onnx (not protobuf) -> MODEL_INVALID naming the file', async () => {
    const dir = await copyModel();
    const onnx = path.join(dir, 'onnx', 'model.onnx');
    await writeFile(onnx, 'this is not an onnx graph\n'.repeat(50));
    await assertLoadFails(dir, 'MODEL_INVALID', onnx);
  });

  it('config.json that is not JSON -> MODEL_INVALID naming the file', async () => {
    const dir = await copyModel();
    const config = path.join(dir, 'config.json');
    await writeFile(config, '{"hidden_size": 32,');
    await assertLoadFails(dir, 'MODEL_INVALID', config, 'not valid JSON');
  });

  it('config.json with a nonsense max_position_embeddings -> MODEL_INVALID', async () => {
    const dir = await copyModel();
    const config = path.join(dir, 'config.json');
    const parsed = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    await writeFile(config, JSON.stringify({ ...parsed, max_position_embeddings: 'lots' }));
    await assertLoadFails(dir, 'MODEL_INVALID', config, 'max_position_embeddings');
  });

  it('corrupt tokenizer.json -> MODEL_INVALID naming the file', async () => {
    const dir = await copyModel();
    const tokenizer = path.join(dir, 'tokenizer.json');
    await writeFile(tokenizer, '{"version": "1.0", "model": 42}');
    await assertLoadFails(dir, 'MODEL_INVALID', tokenizer);
  });

  it('feeds only the inputs the graph declares (no token_type_ids), masking padding, in input order', async () => {
    const dir = await copyModel();
    await writeFile(path.join(dir, 'onnx', 'model.onnx'), sumOfIdsGraph());
    const engine = await loadEngine({ modelDir: dir, intraOpThreads: 1, maxBatchRows: 2 });
    try {
      assert.deepEqual(engine.info.inputNames, ['input_ids', 'attention_mask']);
      const docs = ['a much longer document than the others '.repeat(3), 'short', '', 'medium sized one', 'x'];
      const tokenizer = await PairTokenizer.load({
        tokenizerPath: path.join(dir, 'tokenizer.json'),
        modelDir: dir,
        maxLength: engine.info.maxLength,
      });
      const expected = (await tokenizer.encodePairs('the query', docs)).map((p) => p.ids.reduce((a, b) => a + b, 0));
      const { scores, timings } = await engine.score('the query', docs, { raw: true });
      assert.deepEqual(scores, expected);
      assert.equal(timings.batches, 3);
    } finally {
      await engine.close();
    }
  });

  it('bad options -> INVALID_OPTIONS', async () => {
    for (const options of [{ maxLength: 2 }, { maxLength: 1.5 }, { intraOpThreads: 0 }, { tokenBudget: -1 }]) {
      await assert.rejects(loadEngine({ modelDir: validDir, ...options }), { code: 'INVALID_OPTIONS' });
    }
  });
});

describe('a loaded engine', () => {
  it('reports its info, scores after warm-up, and closes idempotently', async () => {
    const modelDir = await ensureTestModel('tiny');
    const engine = await loadEngine({ modelDir, intraOpThreads: 1 });
    assert.equal(engine.info.modelDir, path.resolve(modelDir));
    assert.equal(engine.info.maxLength, 64);
    assert.equal(engine.info.synthetic, true);
    assert.equal(engine.info.fastTokenizer, true, 'the BERT WordPiece fast path serves generated models');
    assert.ok(engine.info.modelName.length > 0);
    assert.ok(engine.info.inputNames.includes('input_ids'));
    const result = await engine.score('q', ['a', 'b', 'c']);
    assert.equal(result.scores.length, 3);
    assert.equal(result.timings.batches, 1);
    assert.ok(result.timings.inferenceMs > 0);
    await Promise.all([engine.close(), engine.close()]);
    await engine.close();
    await assert.rejects(engine.score('q', ['a']), { code: 'INFERENCE_FAILED' });
  });

  it('scores no documents as no scores', async () => {
    const engine = await loadEngine({ modelDir: await ensureTestModel('tiny'), intraOpThreads: 1 });
    try {
      const result = await engine.score('q', []);
      assert.deepEqual(result.scores, []);
      assert.equal(result.timings.batches, 0);
    } finally {
      await engine.close();
    }
  });
});
