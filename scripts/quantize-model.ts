/**
 * npm run model:quantize -- --model-dir DIR [--file onnx/model.onnx] [--out DIR]
 *
 * Dynamic int8 quantization of an fp32 model directory (scripts/quantize/int8.ts). Without --out it writes
 * DIR/onnx/model_int8.onnx beside the fp32 graph (select it with MODEL_FILE=onnx/model_int8.onnx); with --out it
 * writes a complete model directory whose onnx/model.onnx is the int8 graph. Exit codes: 0 written, 1 failed,
 * 2 bad flags.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_ONNX_FILE } from '../worker/engine/model-dir.ts';
import { decodeModel, encodeModel, quantizeModel } from './quantize/int8.ts';

const USAGE = `usage: npm run model:quantize -- --model-dir DIR [--file PATH] [--out DIR]
  --model-dir  an fp32 model directory in HuggingFace layout
  --file       the ONNX graph inside it to quantize (default ${DEFAULT_ONNX_FILE})
  --out        write a complete int8 model directory here (default: DIR/onnx/model_int8.onnx beside the fp32 graph)`;

const INT8_FILE = 'onnx/model_int8.onnx';

interface QuantizeOptions {
  modelDir: string;
  file: string;
  outDir: string | undefined;
}

function parseOptions(argv: string[]): QuantizeOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'model-dir': { type: 'string' },
      file: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  if (!values['model-dir']) throw new TypeError('--model-dir DIR is required');
  return {
    modelDir: resolve(values['model-dir']),
    file: values.file ?? DEFAULT_ONNX_FILE,
    outDir: values.out === undefined ? undefined : resolve(values.out),
  };
}

/** Quantizes and writes; returns the path written and a one-line summary. */
async function quantize(options: QuantizeOptions): Promise<string> {
  const source = join(options.modelDir, options.file);
  const model = decodeModel(await readFile(source));
  const summary = quantizeModel(model);
  if (summary.quantized === 0) throw new Error(`${source}: no MatMul/Gemm with a constant float weight to quantize`);
  let target: string;
  if (options.outDir) {
    // Tokenizer, config and the rest come along; other ONNX graphs do not.
    await cp(options.modelDir, options.outDir, { recursive: true, filter: (path) => !path.endsWith('.onnx') });
    target = join(options.outDir, DEFAULT_ONNX_FILE);
  } else {
    target = join(options.modelDir, INT8_FILE);
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, encodeModel(model));
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return (
    `Wrote ${target}: ${summary.quantized} weight matrices int8 (${summary.skipped} activation MatMuls stay fp32), ` +
    `${mb(summary.bytesBefore)} MB -> ${mb(summary.bytesAfter)} MB.` +
    (options.outDir ? '' : `\nRun it with MODEL_DIR=${options.modelDir} MODEL_FILE=${INT8_FILE}`)
  );
}

async function main(argv: string[]): Promise<number> {
  let options: QuantizeOptions | undefined;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    process.stdout.write(`${await quantize(options)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
