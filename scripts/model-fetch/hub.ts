/**
 * The HuggingFace hub's HTTP conventions: resolve URLs, request headers, and a file's metadata from a HEAD
 * request, read the way huggingface_hub's get_hf_file_metadata reads it.
 */
import { FetchError, errorForNetwork, errorForStatus } from './errors.ts';

/** Which repo to read, where, and as whom. */
export interface HubRepo {
  /** Base URL without trailing slash, e.g. https://huggingface.co or a mirror. */
  endpoint: string;
  /** Repo id, e.g. cross-encoder/ms-marco-TinyBERT-L-2-v2. */
  model: string;
  /** Read from the HF_TOKEN environment variable; sent as a bearer token, never printed. */
  token?: string | undefined;
}

/** What the hub says about one file before we download it. */
export interface FileMeta {
  path: string;
  /** The commit the revision resolved to (X-Repo-Commit), when the hub says. */
  commit: string | undefined;
  /** Expected size in bytes: X-Linked-Size for LFS files, else Content-Length of the HEAD answer. */
  size: number | undefined;
  /** Expected sha256 (hex): only LFS files have one, in X-Linked-Etag. Other ETags are git blob ids. */
  sha256: string | undefined;
}

export interface HeadOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_RELATIVE_REDIRECTS = 5;

/** `{endpoint}/{repo}/resolve/{revision}/{path}`; the revision is one URL segment even when it holds slashes. */
export function resolveUrl(repo: HubRepo, revision: string, path: string): string {
  const file = path.split('/').map(encodeURIComponent).join('/');
  return `${repo.endpoint}/${repo.model}/resolve/${encodeURIComponent(revision)}/${file}`;
}

export function hubHeaders(repo: HubRepo): Record<string, string> {
  return {
    'user-agent': 'rerank-queue-fetch-model/0.1',
    // Sizes and hashes describe the stored bytes, so ask for them unencoded.
    'accept-encoding': 'identity',
    ...(repo.token ? { authorization: `Bearer ${repo.token}` } : {}),
  };
}

/**
 * HEADs the file's resolve URL without following the redirect to the CDN, because the metadata lives on the hub's
 * own answer. Relative redirects (a renamed repo) stay on the hub and are followed.
 */
export async function headFile(repo: HubRepo, revision: string, path: string, options: HeadOptions): Promise<FileMeta> {
  const url = resolveUrl(repo, revision, path);
  let target = url;
  for (let hop = 0; hop <= MAX_RELATIVE_REDIRECTS; hop++) {
    const response = await head(target, repo, options, { file: path, url });
    const location = response.headers.get('location');
    if (isRedirect(response.status) && isSameHost(location)) {
      target = new URL(location, target).href;
      continue;
    }
    if (!response.ok && !isRedirect(response.status)) throw errorForStatus(response, { file: path, url });
    return metaFrom(response, path);
  }
  throw new FetchError('E_HUB_HTTP', `more than ${MAX_RELATIVE_REDIRECTS} redirects`, { file: path, url });
}

async function head(
  target: string,
  repo: HubRepo,
  options: HeadOptions,
  context: { file: string; url: string },
): Promise<Response> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    return await fetch(target, { method: 'HEAD', redirect: 'manual', headers: hubHeaders(repo), signal });
  } catch (error) {
    if (options.signal?.aborted) throw new FetchError('E_ABORTED', 'interrupted', { ...context, cause: error });
    if (timeout.aborted) throw new FetchError('E_TIMEOUT', `no answer in ${options.timeoutMs} ms`, context);
    throw errorForNetwork(error, context);
  }
}

function metaFrom(response: Response, path: string): FileMeta {
  const headers = response.headers;
  const linkedEtag = unquoteEtag(headers.get('x-linked-etag'));
  const linkedSize = headers.get('x-linked-size');
  // A redirect's Content-Length is that of the redirect body, not of the file.
  const ownSize = response.ok ? headers.get('content-length') : null;
  return {
    path,
    commit: headers.get('x-repo-commit') ?? undefined,
    size: parseSize(linkedSize ?? ownSize),
    sha256: linkedEtag && SHA256_HEX.test(linkedEtag) ? linkedEtag : undefined,
  };
}

/** A path on the hub itself: '/x', but not the protocol-relative '//cdn.example/x'. */
function isSameHost(location: string | null): location is string {
  return location !== null && location.startsWith('/') && !location.startsWith('//');
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

function unquoteEtag(etag: string | null): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1').toLowerCase();
}

function parseSize(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}
