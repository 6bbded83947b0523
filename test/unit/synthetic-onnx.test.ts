import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { INPUT_NAMES, OPSET_VERSION, OUTPUT_NAME, type ArchName } from '../../scripts/synthetic-model/index.ts';
import { ensureTestModel } from '../support/models.ts';
import { loadReferenceModel, type ReferenceInput } from '../support/reference-bert.ts';

const { onnx } = onnxProto;

/** Runs one padded batch the way an engine would: rows padded with id 0, type 0, mask 0. */
async function runBatch(session: InferenceSession, rows: readonly ReferenceInput[]): Promise<Tensor> {
  const width = Math.max(...rows.map((row) => row.inputIds.length));
  const tensor = (pick: (row: ReferenceInput) => readonly number[]) => {
    const data = new BigInt64Array(rows.length * width);
    rows.forEach((row, r) => pick(row).forEach((value, i) => (data[r * width + i] = BigInt(value))));
    return new Tensor('int64', data, [rows.length, width]);
  };
  const feeds = {
    input_ids: tensor((row) => row.inputIds),
    attention_mask: tensor((row) => row.attentionMask ?? row.inputIds.map(() => 1)),
    token_type_ids: tensor((row) => row.tokenTypeIds),
  };
  const result = (await session.run(feeds))[OUTPUT_NAME];
  assert.ok(result, `no ${OUTPUT_NAME} output`);
  return result;
}

/** logSeverityLevel 4 (fatal only): the position-limit test fails a run on purpose and should not log it. */
const openSession = (dir: string) =>
  InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    logSeverityLevel: 4,
  });

const logitsOf = (tensor: Tensor): number[] => Array.from(tensor.data as Float32Array);

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) => {
    const message = `row ${i}: ${value} vs ${expected[i]} (tolerance ${tolerance})`;
    assert.ok(Math.abs(value - expected[i]!) <= tolerance, message);
  });
}

const PAIRS: [string, string][] = [
  ['Who founded FastAPI?', 'FastAPI was created by Sebastián Ramírez.'],
  ['what is the capital of france', 'Paris is the capital and largest city of France, on the Seine.'],
  ['hello', 'the quick brown fox jumps over the lazy dog'],
  ['cheap flights to berlin', 'Berlin'],
];

async function encodePairs(dir: string): Promise<ReferenceInput[]> {
  const tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  const encodings = await Promise.all(PAIRS.map(([query, doc]) => tokenizer.encode(query, doc)));
  return encodings.map((e) => ({
    inputIds: e.getIds(),
    tokenTypeIds: e.getTypeIds(),
    attentionMask: e.getAttentionMask(),
  }));
}

describe('generated ONNX graph', () => {
  it('declares int64 [batch, sequence] inputs, a float [batch, 1] output and HF weight names', async () => {
    const dir = await ensureTestModel('tiny');
    const model = onnx.ModelProto.decode(await readFile(path.join(dir, 'onnx', 'model.onnx')));
    assert.equal(Number(model.opsetImport[0]?.version), OPSET_VERSION);
    const graph = model.graph!;
    const signature = (info: onnxProto.onnx.IValueInfoProto) => ({
      name: info.name,
      type: info.type?.tensorType?.elemType,
      dims: info.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue)),
    });
    const { INT64, FLOAT } = onnx.TensorProto.DataType;
    const inputs = INPUT_NAMES.map((name) => ({ name, type: INT64, dims: ['batch_size', 'sequence_length'] }));
    assert.deepEqual((graph.input ?? []).map(signature), inputs);
    assert.deepEqual((graph.output ?? []).map(signature), [{ name: 'logits', type: FLOAT, dims: ['batch_size', 1] }]);

    const initializers = graph.initializer ?? [];
    const dims = new Map(initializers.map((t) => [t.name, (t.dims ?? []).map(Number)]));
    assert.equal(dims.size, initializers.length, 'initializer names are unique');
    assert.deepEqual(dims.get('bert.embeddings.word_embeddings.weight'), [4096, 32]);
    assert.deepEqual(dims.get('bert.encoder.layer.1.attention.self.query.weight'), [32, 32]);
    assert.deepEqual(dims.get('bert.encoder.layer.0.intermediate.dense.weight'), [32, 64]);
    assert.deepEqual(dims.get('classifier.weight'), [32, 1]);
    const used = new Set((graph.node ?? []).flatMap((n) => n.input));
    assert.deepEqual([...dims.keys()].filter((name) => !used.has(name)), [], 'every initializer is used');
  });
});

for (const arch of ['tiny', 'tinybert'] as ArchName[]) {
  describe(`${arch} in onnxruntime`, () => {
    let dir: string;
    let session: InferenceSession;
    let rows: ReferenceInput[];
    before(async () => {
      dir = await ensureTestModel(arch, { realVocab: arch === 'tinybert' });
      session = await openSession(dir);
      rows = await encodePairs(dir);
    });
    after(async () => {
      await session?.release();
    });

    it('loads with the declared input and output names', () => {
      assert.deepEqual(session.inputNames, [...INPUT_NAMES]);
      assert.deepEqual(session.outputNames, [OUTPUT_NAME]);
    });

    it('returns finite [B, 1] logits for a padded batch, unchanged by the padding', async () => {
      const batch = [rows[1]!, rows[3]!]; // the second is much shorter, so it is padded
      const logits = await runBatch(session, batch);
      assert.deepEqual(logits.dims, [2, 1]);
      assert.ok(logitsOf(logits).every(Number.isFinite));
      const alone = await runBatch(session, [rows[3]!]);
      assertClose([logitsOf(logits)[1]!], logitsOf(alone), 1e-5);
    });

    it('agrees with the float64 reference within 1e-4', async () => {
      const reference = loadReferenceModel(dir);
      const expected = reference.logits(rows);
      const actual = logitsOf(await runBatch(session, rows));
      assertClose(actual, expected, 1e-4);
      // Near-equal logits would make this check (and score-order tests elsewhere) toothless.
      const spread = Math.max(...expected) - Math.min(...expected);
      assert.ok(spread > 0.01, `logits barely depend on the input: ${expected}`);
    });
  });
}

describe('tiny position limit', () => {
  it('runs 128 tokens and rejects 129, so an engine must cap max_length at max_position_embeddings', async () => {
    const session = await openSession(await ensureTestModel('tiny'));
    try {
      const row = (length: number): ReferenceInput => ({
        inputIds: Array.from({ length }, (_, i) => (i === 0 ? 101 : 1000)),
        tokenTypeIds: new Array<number>(length).fill(0),
      });
      assert.deepEqual((await runBatch(session, [row(128)])).dims, [1, 1]);
      await assert.rejects(runBatch(session, [row(129)]));
    } finally {
      await session.release();
    }
  });
});
