/**
 * Engine benchmark: pairs/s by inference batch size and thread count, tokenization and inference timed apart,
 * inference alone vs the whole engine (tokenize -> batch -> infer, overlapped), and peak RSS with the CPU memory
 * arena on and off (measured in child processes, since maxRSS only ever grows).
 *
 *   npm run bench:engine [-- --model-dir DIR] [--pairs 1024] [--repeats 3] [--max-length 64] [--pair-path encode] [--tokenizer binding] [--quick]
 *
 * --quick runs only the 2-thread batch-32 throughput cell and the concurrent-calls row (no RSS probes, no spinning table).
 * The concurrent-calls row: 250 score() calls of 20 documents one at a time vs all at once (batches shared).
 * --pair-path encode measures the reference tokenization path (one `encode(query, doc)` per pair) instead of
 * the default (documents with one `encodeBatch` per chunk, pairs assembled in JS).
 * --tokenizer binding turns off the pure-TS WordPiece fast path (wordpiece.ts) and tokenizes with the binding.
 *
 * DIR is meant to be the real architecture with the real vocabulary:
 *   npm run model:synthetic -- --arch tinybert --vocab data/bert-base-uncased-vocab.txt --out DIR
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { padBatch, planBatches, type PaddedBatch } from '../worker/engine/batcher.ts';
import { DEFAULT_CPU_MEM_ARENA, DEFAULT_INTRA_OP_SPINNING, loadEngine } from '../worker/engine/engine.ts';
import { readModelDir } from '../worker/engine/model-dir.ts';
import { pipelineParts, planChunks, runPipeline } from '../worker/engine/pipeline.ts';
import { OnnxSession } from '../worker/engine/session.ts';
import { PairTokenizer } from '../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../test/support/models.ts';

const BATCH_SIZES = [1, 8, 32, 128];
const THREADS = [1, 2];
const QUERY = 'what causes the tides in the ocean';
const SENTENCES = [
  'Tides are the rise and fall of sea levels caused by the combined effects of the gravitational forces exerted by the Moon and the Sun.',
  'Most places in the ocean usually experience two high tides and two low tides each day, called a semi-diurnal tide.',
  'The Bay of Fundy in Canada has the highest tidal range in the world, sometimes more than 16 metres.',
  'Tide tables can be used for any given locale to find the predicted times and amplitude.',
  'Spring tides occur when the Sun, Moon and Earth are aligned, which happens at new moon and full moon.',
  'Tidal energy is a form of hydropower that converts the energy obtained from tides into useful forms of power.',
  'Coastal ecosystems such as salt marshes and mudflats depend on the regular flooding brought by tides.',
  'Isaac Newton was the first person to explain tides scientifically in his Philosophiae Naturalis Principia Mathematica.',
];

const { values: flags } = parseArgs({
  options: {
    'model-dir': { type: 'string' },
    pairs: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '3' },
    'max-length': { type: 'string', default: '64' },
    'pair-path': { type: 'string', default: 'assemble' },
    tokenizer: { type: 'string', default: 'auto' },
    quick: { type: 'boolean', default: false },
    probe: { type: 'string' }, // internal: "<arena on|off>:<rows>" runs one RSS probe and prints JSON
  },
});
// Without --model-dir: the real architecture with the real vocabulary, generated once into .cache/models.
const modelDir = flags['model-dir'] ?? (await ensureTestModel('tinybert', { realVocab: true }));
const pairs = Number(flags.pairs);
const repeats = Number(flags.repeats);
const maxLength = Number(flags['max-length']);
const assemblePairs = flags['pair-path'] !== 'encode';
const fastPath = flags.tokenizer !== 'binding';

/** MS MARCO-like passages of 40-110 words: nearly all exceed 64 tokens, as real passages do. */
function passages(count: number): string[] {
  let state = 42;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => {
    const words: string[] = [];
    const target = 40 + (next() % 70);
    while (words.length < target) words.push(...(SENTENCES[next() % SENTENCES.length] as string).split(' '));
    return words.slice(0, target).join(' ');
  });
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

interface Cell {
  threads: number;
  batch: number;
  spinning: boolean;
}

interface Row extends Cell {
  tokenizePerSec: number;
  inferencePerSec: number;
  enginePerSec: number;
  exposedTokenizeMs: number;
  /** CPU time of the whole process (every thread) per pair while tokenizing only. */
  tokenizeCpuUs: number;
}

/**
 * One cell: the same pairs in the same batches, stage by stage, then through runPipeline, which is exactly what
 * RerankEngine.score runs. Runs alternate so that load from other processes hits every column alike.
 */
async function measure(cell: Cell, docs: string[]): Promise<Row> {
  const model = await readModelDir(modelDir);
  const tokenizer = await PairTokenizer.load({ tokenizerPath: model.tokenizerPath, modelDir: model.dir, maxLength, assemblePairs, fastPath });
  const session = await OnnxSession.create({
    onnxPath: model.onnxPath,
    modelDir: model.dir,
    intraOpThreads: cell.threads,
    cpuMemArena: DEFAULT_CPU_MEM_ARENA,
    spinning: cell.spinning,
  });
  const parts = pipelineParts(tokenizer, session, { tokenBudget: cell.batch * maxLength, maxRows: cell.batch });
  const { options } = parts;

  // The batches the engine forms: same chunks, same length sort.
  const batches: PaddedBatch[] = [];
  const tokenizeOnly = async () => {
    batches.length = 0;
    for (const [start, end] of planChunks(docs.length, options)) {
      const encoded = await tokenizer.encodePairs(QUERY, docs.slice(start, end));
      for (const rows of planBatches(encoded.map((p) => p.ids.length), options)) {
        batches.push(padBatch(encoded, rows, tokenizer.padId));
      }
    }
  };
  await tokenizeOnly();
  for (const b of batches.slice(0, 3)) await session.run(b); // warm-up

  const tokenizeMs: number[] = [];
  const tokenizeCpuUs: number[] = [];
  const inferenceMs: number[] = [];
  const engineMs: number[] = [];
  const exposedMs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const cpu = process.cpuUsage();
    tokenizeMs.push(await timed(tokenizeOnly));
    const used = process.cpuUsage(cpu);
    tokenizeCpuUs.push((used.user + used.system) / docs.length);
    inferenceMs.push(await timed(async () => {
      for (const b of batches) await session.run(b);
    }));
    engineMs.push(await timed(async () => {
      const { timings } = await runPipeline(parts, QUERY, docs, { raw: false });
      exposedMs.push(timings.tokenizeMs);
    }));
  }
  await session.release();
  const rate = (ms: number[]) => (docs.length * 1000) / median(ms);
  return {
    ...cell,
    tokenizePerSec: rate(tokenizeMs),
    inferencePerSec: rate(inferenceMs),
    enginePerSec: rate(engineMs),
    exposedTokenizeMs: median(exposedMs),
    tokenizeCpuUs: median(tokenizeCpuUs),
  };
}

/** Pairs/s of 250 calls of 20 documents at the engine defaults (2 threads), made one at a time vs all at once. */
async function measureConcurrentCalls(): Promise<{ sequential: number; concurrent: number; batchRows: number }> {
  const CALLS = 250;
  const DOCS = 20;
  const engine = await loadEngine({ modelDir, maxLength, intraOpThreads: 2 });
  const all = passages(CALLS * DOCS);
  const calls = Array.from({ length: CALLS }, (_, i) => ({ query: `${QUERY} ${i}`, docs: all.slice(i * DOCS, (i + 1) * DOCS) }));
  const sequentialMs: number[] = [];
  const concurrentMs: number[] = [];
  const rowsPerBatch: number[] = [];
  for (let r = 0; r < repeats; r++) {
    sequentialMs.push(await timed(async () => {
      for (const c of calls) await engine.score(c.query, c.docs);
    }));
    concurrentMs.push(await timed(async () => {
      const results = await Promise.all(calls.map((c) => engine.score(c.query, c.docs)));
      const sum = (f: (t: (typeof results)[number]['timings']) => number) => results.reduce((s, x) => s + f(x.timings), 0);
      rowsPerBatch.push(sum((t) => t.batchRows) / sum((t) => t.batches));
    }));
  }
  await engine.close();
  const rate = (ms: number[]) => (CALLS * DOCS * 1000) / median(ms);
  return { sequential: rate(sequentialMs), concurrent: rate(concurrentMs), batchRows: median(rowsPerBatch) };
}

async function printConcurrentCalls(): Promise<void> {
  const c = await measureConcurrentCalls();
  console.log('\nConcurrent score() calls share batches (engine defaults: 2 threads, batch 32):');
  printTable(
    ['workload', 'sequential pairs/s', 'concurrent pairs/s', 'concurrent / sequential', 'rows per batch (concurrent)'],
    [['250 concurrent calls of 20 docs', fmt(c.sequential), fmt(c.concurrent), fmt(c.concurrent / c.sequential, 2), fmt(c.batchRows, 1)]],
  );
}

interface Probe {
  arena: boolean;
  rows: number;
  baseMb: number;
  loadedMb: number;
  scoredMb: number;
  pairsPerSec: number;
}

/** Child-process mode: load at defaults (but arena and rows), score, report peak RSS at each step. */
async function probe(spec: string): Promise<void> {
  const [arenaFlag, rowsText] = spec.split(':');
  const rows = Number(rowsText);
  const arena = arenaFlag === 'on';
  const baseMb = maxRssMb();
  const sizing = rows === 32 ? {} : { maxBatchRows: rows, tokenBudget: rows * maxLength };
  const engine = await loadEngine({ modelDir: modelDir, maxLength, cpuMemArena: arena, ...sizing });
  const loadedMb = maxRssMb();
  const docs = passages(pairs);
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) ms.push(await timed(() => engine.score(QUERY, docs)));
  const result: Probe = { arena, rows, baseMb, loadedMb, scoredMb: maxRssMb(), pairsPerSec: (pairs * 1000) / median(ms) };
  await engine.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runProbe(arena: boolean, rows: number): Probe {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--model-dir', modelDir];
  args.push('--pairs', String(pairs), '--repeats', String(repeats), '--max-length', String(maxLength));
  args.push('--probe', `${arena ? 'on' : 'off'}:${rows}`);
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as Probe;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 1) + ':').join('|')}|`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  if (flags.probe) return probe(flags.probe);
  const model = await readModelDir(modelDir);
  console.log(`model ${model.modelName} (${model.dir}), max length ${maxLength}, ${pairs} pairs/run, median of ${repeats}`);
  if (model.synthetic) console.log('NOTE: generated model with random weights: its scores are meaningless; speed and memory are real.');
  const parallelism = process.env.TOKENIZERS_PARALLELISM ?? 'unset';
  console.log(`pair path: ${assemblePairs ? 'assemble (encodeBatch + JS)' : 'encode per pair'}, TOKENIZERS_PARALLELISM=${parallelism}`);
  console.log(`tokenizer: ${fastPath ? 'pure-TS WordPiece when supported' : 'binding only'}`);

  const header = [
    'threads',
    'batch',
    'tokenize only',
    'tokenize CPU µs/pair',
    'inference only',
    'engine end-to-end',
    'engine / inference',
    'tokenize wait ms',
  ];
  const cells = (rows: Row[]) =>
    rows.map((r) => [
      String(r.threads),
      String(r.batch),
      fmt(r.tokenizePerSec),
      fmt(r.tokenizeCpuUs),
      fmt(r.inferencePerSec),
      fmt(r.enginePerSec),
      fmt(r.enginePerSec / r.inferencePerSec, 2),
      fmt(r.exposedTokenizeMs, 1),
    ]);
  const docs = passages(pairs);
  if (flags.quick) {
    printTable(header, cells([await measure({ threads: 2, batch: 32, spinning: DEFAULT_INTRA_OP_SPINNING }, docs)]));
    await printConcurrentCalls();
    return;
  }

  const probes = [32, 128].flatMap((rows) => [false, true].map((arena) => runProbe(arena, rows)));
  console.log('\nPeak RSS (process.resourceUsage().maxRSS, fresh process each), engine defaults but arena/rows:');
  printTable(
    ['arena', 'batch rows', 'RSS before load MB', 'RSS loaded MB', 'RSS after scoring MB', 'engine pairs/s'],
    probes.map((p) => [p.arena ? 'on' : 'off', String(p.rows), fmt(p.baseMb), fmt(p.loadedMb), fmt(p.scoredMb), fmt(p.pairsPerSec)]),
  );

  const rows: Row[] = [];
  for (const threads of THREADS) {
    for (const batch of BATCH_SIZES) rows.push(await measure({ threads, batch, spinning: DEFAULT_INTRA_OP_SPINNING }, docs));
  }
  console.log(`\nThroughput (pairs/s), intra-op spinning ${DEFAULT_INTRA_OP_SPINNING ? 'on' : 'off'} (default);`);
  console.log('engine = tokenization overlapped with inference, one score() of all pairs per run:');
  printTable(header, cells(rows));

  const spin: Row[] = [];
  for (const spinning of [true, false]) spin.push(await measure({ threads: 2, batch: 32, spinning }, docs));
  console.log('\nIntra-op spinning on (first row) vs off (second), 2 threads, batch 32:');
  printTable(header, cells(spin));

  await printConcurrentCalls();
}

await main();
