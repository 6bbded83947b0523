/**
 * What chunking long documents costs: one score() of 20 documents of ~600 words, truncated vs chunked (at the
 * service defaults: window of MAX_SEQ_LENGTH 64, CHUNK_OVERLAP_TOKENS 16, MAX_CHUNKS_PER_DOC 16), on the
 * generated model with the real TinyBERT-L-2 architecture, one thread. Prints medians of 7 runs.
 *
 *   npx tsx bench/chunking.ts
 */
import { loadEngine, type ScoreOptions } from '../worker/engine/index.ts';
import { ensureTestModel } from '../test/support/models.ts';

const RUNS = 7;
const WORDS = 'the quick brown fox jumps over the lazy dog while fastapi was created by sebastian ramirez'.split(' ');
const DOCS = Array.from({ length: 20 }, (_, d) =>
  Array.from({ length: 600 }, (_, i) => WORDS[(i * 7 + d) % WORDS.length]).join(' '),
);
const QUERY = 'who created fastapi';
const MODES: Array<[string, ScoreOptions]> = [
  ['truncate', {}],
  ['chunk', { chunk: { overlapTokens: 16, maxChunks: 16 } }],
];

const modelDir = await ensureTestModel('tinybert', { realVocab: true });
const engine = await loadEngine({ modelDir, maxLength: 64, intraOpThreads: 1 });
for (const [name, options] of MODES) {
  const ms: number[] = [];
  let result = await engine.score(QUERY, DOCS, options);
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    result = await engine.score(QUERY, DOCS, options);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(RUNS / 2)] ?? Number.NaN;
  console.log(
    `${name.padEnd(8)} median ${median.toFixed(1).padStart(7)} ms, ${result.timings.tokens} tokens scored, ` +
      `long documents ${JSON.stringify(result.longDocuments)}`,
  );
}
await engine.close();
