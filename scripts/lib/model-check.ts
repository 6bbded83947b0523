/**
 * A cheap look at MODEL_DIR before anything starts, so `npm start` fails in milliseconds with the fix instead of
 * a worker that exits (and is restarted, and exits) in a loop. The worker validates the files fully on load.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
// model-dir.ts, not the engine's index: the supervisor must not load onnxruntime just to check for files.
import { DEFAULT_ONNX_FILE, requiredModelFiles } from '../../worker/engine/model-dir.ts';
import { MODEL_FIX_HINT } from '../../worker/model-hint.ts';

/** Where `npm run demo` generates its random-weight model (relative to the repository). */
export const DEMO_MODEL_DIR = 'models/demo-tinybert-random';

/** Why `dir` holds no model (missing files named, with the fix), or undefined when the files are there. */
export function modelDirProblem(dir: string, onnxFile: string = DEFAULT_ONNX_FILE): string | undefined {
  const absolute = resolve(dir);
  const missing = requiredModelFiles(onnxFile).filter((file) => !statSync(join(absolute, file), { throwIfNoEntry: false })?.isFile());
  if (missing.length === 0) return undefined;
  return `No model in MODEL_DIR=${absolute} (missing ${missing.join(', ')}). ${MODEL_FIX_HINT}`;
}
