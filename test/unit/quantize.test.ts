/**
 * int8 models: the weight quantizer's arithmetic, `npm run model:quantize` on a generated model of the real
 * architecture, MODEL_FILE selecting the variant, and agreement of int8 scores with fp32 over 2,000 pairs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { agreement } from '../../bench/lib/agreement.ts';
import { wordPassages } from '../../bench/lib/report.ts';
import { quantizeColumns } from '../../scripts/quantize/int8.ts';
import { loadConfig } from '../../shared/config.ts';
import { loadEngine, type RerankEngine } from '../../worker/engine/index.ts';
import { ensureTestModel, REPO_ROOT } from '../support/models.ts';

const CLI = path.join(REPO_ROOT, 'scripts', 'quantize-model.ts');

async function quantizeCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('per-column symmetric int8 weights', () => {
  it('dequantize to within half a step of the original, column by column', () => {
    const rows = 3;
    const cols = 2;
    const weights = Float32Array.of(0.5, -2, -1, 0.25, 0.01, 1.5);
    const { q, scales } = quantizeColumns(weights, rows, cols);
    // Column maxima |-1| and |-2| map to 127.
    assert.deepEqual([...scales].map((scale) => Math.round(scale * 127 * 1e5) / 1e5), [1, 2]);
    for (let i = 0; i < weights.length; i++) {
      assert.ok(Math.abs(q[i]! * scales[i % cols]! - weights[i]!) <= scales[i % cols]! / 2 + 1e-7);
    }
    assert.equal(Math.max(...[...q].map(Math.abs)), 127);
  });

  it('gives an all-zero column a unit scale instead of dividing by zero', () => {
    const { q, scales } = quantizeColumns(new Float32Array(4), 2, 2);
    assert.deepEqual([...scales], [1, 1]);
    assert.deepEqual([...q], [0, 0, 0, 0]);
  });
});

describe('npm run model:quantize on the real TinyBERT architecture', () => {
  let scratch: string;
  let fp32Dir: string;
  let fp32: RerankEngine;
  let int8: RerankEngine;

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'quantize-'));
    fp32Dir = path.join(scratch, 'fp32');
    await cp(await ensureTestModel('tinybert', { realVocab: true }), fp32Dir, { recursive: true });
  });

  after(async () => {
    await Promise.all([fp32?.close(), int8?.close()]);
    await rm(scratch, { recursive: true, force: true });
  });

  it('writes onnx/model_int8.onnx beside the fp32 graph and says how to select it', async () => {
    const run = await quantizeCli('--model-dir', fp32Dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /14 weight matrices int8 \(4 activation MatMuls stay fp32\)/);
    assert.match(run.stdout, /MODEL_FILE=onnx\/model_int8\.onnx/);
    assert.ok(existsSync(path.join(fp32Dir, 'onnx', 'model_int8.onnx')));
  });

  it('with --out writes a complete model directory whose onnx/model.onnx is int8', async () => {
    const out = path.join(scratch, 'int8');
    const run = await quantizeCli('--model-dir', fp32Dir, '--out', out);
    assert.equal(run.code, 0, run.stderr);
    for (const file of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) assert.ok(existsSync(path.join(out, file)), file);
    assert.ok(!existsSync(path.join(out, 'onnx', 'model_int8.onnx')), 'other graphs are not copied');
  });

  it('refuses a missing model directory (exit 1) and missing flags (exit 2)', async () => {
    assert.equal((await quantizeCli('--model-dir', path.join(scratch, 'nowhere'))).code, 1);
    assert.equal((await quantizeCli()).code, 2);
  });

  it('MODEL_FILE selects the variant, under a model name of its own', () => {
    const config = loadConfig({ MODEL_DIR: fp32Dir, MODEL_FILE: 'onnx/model_int8.onnx' });
    assert.equal(config.MODEL_NAME, 'fp32-model_int8');
    assert.equal(loadConfig({ MODEL_DIR: fp32Dir }).MODEL_NAME, 'fp32');
    assert.throws(() => loadConfig({ MODEL_FILE: '../elsewhere.onnx' }), /MODEL_FILE/);
  });

  it('scores 2,000 pairs in agreement with fp32 (Pearson and Spearman >= 0.99, top-10 overlap >= 80%)', async () => {
    fp32 = await loadEngine({ modelDir: fp32Dir, intraOpThreads: 2 });
    int8 = await loadEngine({ modelDir: fp32Dir, modelFile: 'onnx/model_int8.onnx', intraOpThreads: 2 });
    const passages = wordPassages(2_000, 60);
    const queries = Array.from({ length: 20 }, (_, q) => `what causes the tides in the ocean ${q}`);
    const score = (engine: RerankEngine) =>
      Promise.all(queries.map(async (query, q) => (await engine.score(query, passages.slice(q * 100, (q + 1) * 100), { raw: true })).scores));
    const result = agreement(await score(fp32), await score(int8));
    assert.ok(result.pearson >= 0.99, `Pearson ${result.pearson}`);
    assert.ok(result.spearman >= 0.99, `Spearman ${result.spearman}`);
    assert.ok(result.top10 >= 0.8, `top-10 overlap ${result.top10}`);
  });

  it('a missing variant fails to load with MODEL_NOT_FOUND naming the file', async () => {
    await assert.rejects(loadEngine({ modelDir: fp32Dir, modelFile: 'onnx/model_q4.onnx' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'MODEL_NOT_FOUND');
      assert.match(error.message, /onnx\/model_q4\.onnx/);
      return true;
    });
  });
});
