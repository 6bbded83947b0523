/**
 * `npm run demo`: the whole service without downloading anything. Generates a model with the real
 * TinyBERT-L-2 architecture and random weights (once), says loudly that its scores are meaningless, and runs the
 * same supervisor as `npm start` with MODEL_DIR pointing at it.
 */
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { bertVocabPath } from './lib/bert-vocab.ts';
import { DEMO_MODEL_DIR, modelDirProblem } from './lib/model-check.ts';
import { runService } from './lib/service.ts';
import { writeSyntheticModel } from './synthetic-model/index.ts';

const root = resolve(import.meta.dirname, '..');
const modelDir = resolve(root, DEMO_MODEL_DIR);

async function ensureDemoModel(): Promise<void> {
  if (modelDirProblem(modelDir) === undefined) return;
  // Written next to the target and renamed, so an interrupted run never leaves a half-written model behind.
  const partial = `${modelDir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await writeSyntheticModel({ arch: 'tinybert', outDir: partial, vocabFile: bertVocabPath() });
  await rm(modelDir, { recursive: true, force: true });
  await rename(partial, modelDir);
}

const BANNER = [
  '',
  '============================================================================================',
  `  DEMO MODE: the model in ${DEMO_MODEL_DIR} has RANDOM WEIGHTS.`,
  '  Everything works (API, queue, worker, metrics), but its scores are MEANINGLESS.',
  '  For real relevance scores: npm run model:fetch && npm start',
  '============================================================================================',
  '',
].join('\n');

await ensureDemoModel();
process.stderr.write(`${BANNER}\n`);
process.exitCode = await runService({ cwd: root, overrides: { MODEL_DIR: modelDir } });
