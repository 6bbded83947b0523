/**
 * One run, one machine, one model directory, the same passages: ONNX Runtime inference alone (the ceiling), the
 * engine (fp32 and int8) and transformers.js (fp32 and int8 files), then int8-vs-fp32 agreement and the ratios.
 * Runs are interleaved (every contender once per round, median of the rounds) so load from other processes hits
 * them alike.
 *
 *   npm run bench:compare [-- --model-dir DIR] [--queries 20] [--docs 100] [--rounds 3] [--quick] [--write]
 *
 * Without --model-dir: a generated model with the real TinyBERT-L-2 architecture and vocabulary (random weights:
 * its scores are meaningless; speed and agreement are real). The int8 graph is written beside it once
 * (onnx/model_int8.onnx, as `npm run model:quantize` does). --write puts the table into BENCHMARKS.md.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { padBatch, planBatches, type PaddedBatch } from '../worker/engine/batcher.ts';
import { DEFAULT_CPU_MEM_ARENA, DEFAULT_INTRA_OP_SPINNING, loadEngine } from '../worker/engine/engine.ts';
import { readModelDir } from '../worker/engine/model-dir.ts';
import { OnnxSession } from '../worker/engine/session.ts';
import { PairTokenizer } from '../worker/engine/tokenizer.ts';
import { decodeModel, encodeModel, quantizeModel } from '../scripts/quantize/int8.ts';
import { ensureTestModel } from '../test/support/models.ts';
import { agreement } from './lib/agreement.ts';
import { fmt, machine, printTable, recordInBenchmarks, wordPassages } from './lib/report.ts';
import { loadTransformersJs } from './lib/transformers-js.ts';

const { values: flags } = parseArgs({
  options: {
    'model-dir': { type: 'string' },
    queries: { type: 'string', default: '20' },
    docs: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    'max-length': { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const quick = flags.quick;
const queryCount = quick ? 2 : Number(flags.queries);
const docsPerQuery = quick ? 32 : Number(flags.docs);
const rounds = quick ? 1 : Number(flags.rounds);
const maxLength = Number(flags['max-length']);
const BATCH = 32;
const THREADS = 2;
const INT8_FILE = 'onnx/model_int8.onnx';

const modelDir = flags['model-dir'] ?? (await ensureTestModel('tinybert', { realVocab: true }));
const model = await readModelDir(modelDir);
if (!existsSync(join(model.dir, INT8_FILE))) {
  const graph = decodeModel(await readFile(model.onnxPath));
  quantizeModel(graph);
  await writeFile(join(model.dir, INT8_FILE), encodeModel(graph));
}

const queries = Array.from({ length: queryCount }, (_, q) => `what causes the tides in the ocean ${q}`);
const passages = wordPassages(queryCount * docsPerQuery, 60);
const docsOf = (q: number) => passages.slice(q * docsPerQuery, (q + 1) * docsPerQuery);
const pairs = queryCount * docsPerQuery;

type Scorer = (query: string, docs: readonly string[]) => Promise<number[]>;

/** Inference alone: the engine's own batches, tokenized up front, fed straight to the session. */
async function inferenceOnly(onnxFile: string): Promise<() => Promise<void>> {
  const tokenizer = await PairTokenizer.load({ tokenizerPath: model.tokenizerPath, modelDir: model.dir, maxLength });
  const session = await OnnxSession.create({
    onnxPath: join(model.dir, onnxFile),
    modelDir: model.dir,
    intraOpThreads: THREADS,
    cpuMemArena: DEFAULT_CPU_MEM_ARENA,
    spinning: DEFAULT_INTRA_OP_SPINNING,
  });
  const batches: PaddedBatch[] = [];
  for (let q = 0; q < queryCount; q++) {
    const encoded = await tokenizer.encodePairs(queries[q]!, docsOf(q));
    const options = { tokenBudget: BATCH * maxLength, maxRows: BATCH };
    for (const rows of planBatches(encoded.map((pair) => pair.ids.length), options)) {
      batches.push(padBatch(encoded, rows, tokenizer.padId));
    }
  }
  return async () => {
    for (const batch of batches) await session.run(batch);
  };
}

async function engineScorer(onnxFile: string, inferenceThread = true): Promise<Scorer> {
  const engine = await loadEngine({ modelDir: model.dir, modelFile: onnxFile, maxLength, intraOpThreads: THREADS, maxBatchRows: BATCH, inferenceThread });
  return async (query, docs) => (await engine.score(query, [...docs], { raw: true })).scores;
}

/** The worker's load: every query's call at once (concurrent jobs share batches), with the event loop's lag. */
async function concurrentCalls(scorer: Scorer): Promise<{ ms: number; lagP50: number; lagP99: number }> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const started = performance.now();
  await Promise.all(queries.map((query, q) => scorer(query, docsOf(q))));
  const ms = performance.now() - started;
  lag.disable();
  return { ms, lagP50: lag.percentile(50) / 1e6, lagP99: lag.percentile(99) / 1e6 };
}

async function transformersScorer(onnxFile: string): Promise<Scorer> {
  const scorer = await loadTransformersJs(model.dir, { onnxFile, maxLength, batchSize: BATCH });
  return (query, docs) => scorer.score(query, docs);
}

const scoreAll = async (scorer: Scorer): Promise<number[][]> => {
  const all: number[][] = [];
  for (let q = 0; q < queryCount; q++) all.push(await scorer(queries[q]!, docsOf(q)));
  return all;
};

async function main(): Promise<void> {
  const contenders: { name: string; run: () => Promise<unknown> }[] = [];
  const scores: Record<string, number[][]> = {};
  for (const [label, file] of [['fp32', 'model'], ['int8', 'model_int8']] as const) {
    contenders.push({ name: `ORT inference alone, ${label}`, run: await inferenceOnly(`onnx/${file}.onnx`) });
    const engine = await engineScorer(`onnx/${file}.onnx`);
    contenders.push({ name: `engine, ${label}`, run: async () => (scores[`engine ${label}`] = await scoreAll(engine)) });
    const tjs = await transformersScorer(file);
    contenders.push({ name: `transformers.js, ${label}`, run: async () => (scores[`tjs ${label}`] = await scoreAll(tjs)) });
  }
  const threading = { 'calling thread': await engineScorer('onnx/model.onnx', false), 'worker thread': await engineScorer('onnx/model.onnx') };
  const concurrent = new Map<string, { ms: number; lagP50: number; lagP99: number }[]>();
  for (const [where, scorer] of Object.entries(threading)) {
    contenders.push({ name: `engine, fp32, inference on the ${where}`, run: () => scoreAll(scorer) });
    concurrent.set(where, []);
  }
  for (const contender of contenders) await contender.run(); // warm-up
  const ms = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) {
      const started = performance.now();
      await contender.run();
      ms.get(contender.name)!.push(performance.now() - started);
    }
    for (const [where, scorer] of Object.entries(threading)) concurrent.get(where)!.push(await concurrentCalls(scorer));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rate = (name: string) => (pairs * 1000) / median(ms.get(name)!);

  const lines: string[] = [];
  const log = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  log(`${machine()}; ${pairs} pairs (${queryCount} queries x ${docsPerQuery} passages of 60 words), max length ${maxLength}, batch ${BATCH}, ${THREADS} threads, median of ${rounds}`);
  if (model.synthetic) log('Generated model (real architecture and vocabulary, random weights): scores meaningless, speed real.');
  log();
  printTable(['what', 'pairs/s'], contenders.map((c) => [c.name, fmt(rate(c.name))]), log);
  log();
  log(`All ${queryCount} calls at once (fp32), inference on the calling thread vs a worker thread:`);
  printTable(
    ['inference on', 'pairs/s', 'event-loop lag p50 ms', 'p99 ms'],
    [...concurrent].map(([where, runs]) => {
      const middle = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
      return [where, fmt((pairs * 1000) / middle.ms), fmt(middle.lagP50, 1), fmt(middle.lagP99, 1)];
    }),
    log,
  );
  const fp32 = agreement(scores['engine fp32']!, scores['engine int8']!);
  log();
  log(`int8 vs fp32 (engine, ${pairs} pairs): Pearson ${fmt(fp32.pearson, 4)}, Spearman ${fmt(fp32.spearman, 4)}, top-10 overlap ${fmt(fp32.top10 * 100, 1)}%`);
  log();
  printTable(
    ['ratio', 'value'],
    [
      ['engine fp32 / transformers.js fp32', fmt(rate('engine, fp32') / rate('transformers.js, fp32'), 2)],
      ['engine int8 / transformers.js fp32', fmt(rate('engine, int8') / rate('transformers.js, fp32'), 2)],
      ['engine int8 / transformers.js int8', fmt(rate('engine, int8') / rate('transformers.js, int8'), 2)],
      ['engine fp32 / ORT alone fp32', fmt(rate('engine, fp32') / rate('ORT inference alone, fp32'), 2)],
      ['engine int8 / engine fp32', fmt(rate('engine, int8') / rate('engine, fp32'), 2)],
      ['engine fp32: worker thread / calling thread', fmt(rate('engine, fp32, inference on the worker thread') / rate('engine, fp32, inference on the calling thread'), 2)],
    ],
    log,
  );
  if (flags.write && !quick) await recordInBenchmarks('compare', 'npm run bench:compare -- --write', lines);
  process.exit(0); // transformers.js keeps its sessions' threads alive
}

await main();
