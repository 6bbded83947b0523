/**
 * Generated models for tests, cached in <repo>/.cache/models and built only when missing or made by an older
 * generator. A model is written to a temporary directory and renamed into place, so concurrent test processes
 * never see half a model.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DEFAULT_SEED,
  GENERATOR_VERSION,
  writeSyntheticModel,
  type ArchName,
} from '../../scripts/synthetic-model/index.ts';
import { bertVocabPath } from '../../scripts/lib/bert-vocab.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** bert-base-uncased's vocabulary, bundled in data/ (its checksum is checked on first use). */
export { BERT_VOCAB_PATH as REAL_VOCAB_PATH } from '../../scripts/lib/bert-vocab.ts';
export const TEST_MODELS_DIR = join(REPO_ROOT, '.cache', 'models');

export interface TestModelOptions {
  /** Use the bundled real BERT vocabulary instead of a generated one. */
  realVocab?: boolean;
  /** Default 42. */
  seed?: number;
}

/** True when `dir` holds a complete model from the current generator. */
function isCurrent(dir: string): boolean {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      rerank_queue?: { generator_version?: number };
    };
    return config.rerank_queue?.generator_version === GENERATOR_VERSION && existsSync(join(dir, 'onnx', 'model.onnx'));
  } catch {
    return false;
  }
}

const errorCode = (error: unknown): unknown => (error as NodeJS.ErrnoException | undefined)?.code;

async function generate(dir: string, arch: ArchName, seed: number, vocabFile: string | undefined): Promise<void> {
  const unique = `${process.pid}-${randomUUID()}`;
  const temp = `${dir}.tmp-${unique}`;
  await mkdir(TEST_MODELS_DIR, { recursive: true });
  try {
    await writeSyntheticModel({ arch, outDir: temp, seed, vocabFile });
    if (isCurrent(dir)) return; // another process finished first
    if (existsSync(dir)) {
      // A model from an older generator: move it aside (another process may be doing the same).
      const stale = `${dir}.stale-${unique}`;
      await rename(dir, stale).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
      await rm(stale, { recursive: true, force: true });
    }
    await rename(temp, dir).catch((error: unknown) => {
      // Another process installed the same model first; theirs is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes(String(errorCode(error))) || !isCurrent(dir)) throw error;
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

const pending = new Map<string, Promise<string>>();

/** The directory of a generated model in HF layout, `.cache/models/<arch>-seed<N>[-realvocab]`. */
export function ensureTestModel(arch: ArchName, options: TestModelOptions = {}): Promise<string> {
  const seed = options.seed ?? DEFAULT_SEED;
  const vocabFile = options.realVocab ? bertVocabPath() : undefined;
  const dir = join(TEST_MODELS_DIR, `${arch}-seed${seed}${vocabFile ? '-realvocab' : ''}`);
  let ready = pending.get(dir);
  if (!ready) {
    ready = isCurrent(dir) ? Promise.resolve(dir) : generate(dir, arch, seed, vocabFile).then(() => dir);
    // A failure is not cached: the next caller tries again.
    ready.catch(() => pending.delete(dir));
    pending.set(dir, ready);
  }
  return ready;
}
