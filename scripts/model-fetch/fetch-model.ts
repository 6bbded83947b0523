/**
 * Fetches a model from the hub into a directory: look at what is already there, read every file's metadata
 * (pinning the revision to one commit), download into a staging directory, then install it in one rename.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { downloadFile, type DownloadedFile } from './download.ts';
import { FetchError } from './errors.ts';
import { headFile, resolveUrl, type FileMeta, type HubRepo } from './hub.ts';
import { installDir, makeStagingDir, removeDir } from './install.ts';
import { modelFiles } from '../../worker/engine/model-dir.ts';
import { inspectModelDir, writeManifest, type DirState, type Manifest } from './model-dir.ts';
import { silentProgress, type Progress } from './progress.ts';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.ts';

export interface FetchModelOptions {
  /** Hub repo id, e.g. cross-encoder/ms-marco-TinyBERT-L-2-v2. */
  model: string;
  /** Branch, tag or commit; resolved to a commit by the first request. */
  revision: string;
  /** Target model directory; created with its parents. */
  outDir: string;
  /** The ONNX graph to fetch (e.g. a quantized variant such as onnx/model_quint8_avx2.onnx); default onnx/model.onnx. */
  onnxFile?: string | undefined;
  /** Hub base URL, e.g. https://huggingface.co. */
  endpoint: string;
  /** Bearer token for private or gated repos. */
  token?: string | undefined;
  /** Fetch even when outDir holds a complete model, and replace an incomplete one. */
  force?: boolean | undefined;
  /** Default DEFAULT_RETRY; tests shrink the delays. */
  retry?: RetryPolicy | undefined;
  /** Per-request limit on waiting for an answer or the next bytes; default 30 s. */
  timeoutMs?: number | undefined;
  /** Default silent: the CLI passes a terminal or log reporter. */
  progress?: Progress | undefined;
  /** Aborting it stops the fetch and removes the staging directory. */
  signal?: AbortSignal | undefined;
}

export type FetchModelResult =
  | { status: 'fetched'; dir: string; manifest: Manifest }
  | { status: 'present'; dir: string; manifest: Manifest | undefined };

const DEFAULT_TIMEOUT_MS = 30_000;

export async function fetchModel(options: FetchModelOptions): Promise<FetchModelResult> {
  const dir = resolve(options.outDir);
  const state = await inspectModelDir(dir, options.onnxFile);
  const present = existingModel(state, dir, options);
  if (present) return present;

  const repo: HubRepo = { endpoint: options.endpoint.replace(/\/+$/, ''), model: options.model, token: options.token };
  const { revision, commit, metas } = await readMetadata(repo, options);
  const staging = await fsStep(`could not create a staging directory beside ${dir}`, async () => {
    await mkdir(dirname(dir), { recursive: true });
    return makeStagingDir(dir);
  });
  try {
    const files: DownloadedFile[] = [];
    for (const meta of metas) files.push(await download(repo, revision, meta, staging, options));
    const manifest: Manifest = { model: options.model, revision: options.revision, commit: commit ?? null, files, fetched_at: new Date().toISOString() };
    await writeManifest(staging, manifest);
    await fsStep(`could not move ${staging} to ${dir}`, () => installDir(staging, dir, state.kind !== 'missing'));
    return { status: 'fetched', dir, manifest };
  } catch (error) {
    await removeDir(staging);
    throw error;
  }
}

/** The result when there is nothing to do; throws when the directory must not be touched without --force. */
function existingModel(state: DirState, dir: string, options: FetchModelOptions): FetchModelResult | undefined {
  switch (state.kind) {
    case 'missing':
      return undefined;
    case 'not-a-directory':
      throw new FetchError('E_OUT_DIR', `${dir} exists and is not a directory`);
    case 'incomplete':
      if (options.force) return undefined;
      throw new FetchError('E_OUT_DIR', `${dir} exists but is not a complete model (missing ${state.missing.join(', ')})`);
    case 'complete':
      if (options.force) return undefined;
      if (state.manifest && state.manifest.model !== options.model) {
        throw new FetchError('E_OUT_DIR', `${dir} holds ${state.manifest.model}, not ${options.model}`);
      }
      return { status: 'present', dir, manifest: state.manifest };
  }
}

/**
 * HEADs every model file. The first answer's X-Repo-Commit pins the revision, so all files come from one commit
 * even if the branch moves during the fetch. A missing optional file is skipped.
 */
async function readMetadata(repo: HubRepo, options: FetchModelOptions) {
  let revision = options.revision;
  let commit: string | undefined;
  const metas: FileMeta[] = [];
  for (const { path, required } of modelFiles(options.onnxFile)) {
    const head = () => headFile(repo, revision, path, { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: options.signal });
    const meta = await withRetry(options.retry ?? DEFAULT_RETRY, retryHooks(path, options), head).catch((error: unknown) => {
      if (!required && error instanceof FetchError && error.code === 'E_HUB_NOT_FOUND') return undefined;
      throw error;
    });
    if (meta === undefined) continue;
    if (commit === undefined && meta.commit !== undefined) [commit, revision] = [meta.commit, meta.commit];
    metas.push(meta);
  }
  return { revision, commit, metas };
}

function download(repo: HubRepo, revision: string, meta: FileMeta, staging: string, options: FetchModelOptions) {
  return downloadFile({
    repo,
    meta,
    url: resolveUrl(repo, revision, meta.path),
    dest: join(staging, meta.path),
    stallTimeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: options.retry ?? DEFAULT_RETRY,
    progress: options.progress ?? silentProgress,
    signal: options.signal,
  });
}

function retryHooks(path: string, options: FetchModelOptions) {
  const progress = options.progress ?? silentProgress;
  return {
    signal: options.signal,
    onRetry: (error: FetchError, retry: number, delayMs: number) => progress.retrying(path, error, retry, delayMs),
  };
}

/** Runs a filesystem step, reporting its failure as E_WRITE with what was being done. */
async function fsStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FetchError('E_WRITE', `${what}: ${reason}`, { cause: error });
  }
}
