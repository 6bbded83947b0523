/**
 * What a model directory must hold, whether a directory holds it, and the `.fetch.json` manifest that records
 * where its files came from.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// The engine's list (model-dir.ts loads no onnxruntime): what is fetched is exactly what the worker reads.
import { modelFiles } from '../../worker/engine/model-dir.ts';

export const MANIFEST_NAME = '.fetch.json';

export interface Manifest {
  model: string;
  revision: string;
  /** The commit every file was read at; null when the endpoint does not send X-Repo-Commit. */
  commit: string | null;
  files: { path: string; size: number; sha256: string }[];
  fetched_at: string;
}

export type DirState =
  | { kind: 'missing' }
  | { kind: 'not-a-directory' }
  /** Every required file is there (and matches the manifest's sizes when there is one). */
  | { kind: 'complete'; manifest: Manifest | undefined }
  | { kind: 'incomplete'; missing: string[] };

export async function inspectModelDir(dir: string, onnxFile?: string): Promise<DirState> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (dirStat === undefined) return { kind: 'missing' };
  if (!dirStat.isDirectory()) return { kind: 'not-a-directory' };
  const manifest = await readManifest(dir);
  const expected = new Map<string, number | undefined>(
    modelFiles(onnxFile)
      .filter((f) => f.required)
      .map((f) => [f.path, undefined]),
  );
  for (const file of manifest?.files ?? []) expected.set(file.path, file.size);
  const missing: string[] = [];
  for (const [path, size] of expected) {
    const fileStat = await stat(join(dir, path)).catch(() => undefined);
    const ok = fileStat?.isFile() && fileStat.size > 0 && (size === undefined || fileStat.size === size);
    if (!ok) missing.push(path);
  }
  return missing.length === 0 ? { kind: 'complete', manifest } : { kind: 'incomplete', missing };
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFile(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The manifest, or undefined when there is none or it is not ours (e.g. a synthetic model's directory). */
async function readManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readFile(join(dir, MANIFEST_NAME), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Manifest>;
    return typeof value.model === 'string' && Array.isArray(value.files) ? (value as Manifest) : undefined;
  } catch {
    return undefined;
  }
}
