/**
 * A local stand-in for the HuggingFace hub: resolve URLs with the hub's HEAD headers, LFS files redirected to a
 * separate "CDN" server (another origin, like the real one), and faults injected per file and method.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP error answer, or a broken body: cut connection, flipped byte, or headers then silence. */
export type Fault = { status: number; headers?: Record<string, string> } | 'truncate' | 'corrupt' | 'stall';

export interface FakeHubOptions {
  repo: string;
  commit: string;
  /** Path -> bytes. Mutable: a test may change the repo between fetches. */
  files: Record<string, Buffer>;
  /** Paths stored in LFS: HEAD answers 302 with X-Linked-Etag/X-Linked-Size, GET redirects to the CDN. */
  lfs: readonly string[];
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** File path within the repo (for the CDN, the file whose blob was asked for). */
  path: string;
  revision: string | undefined;
  authorization: string | undefined;
}

export interface FakeHub {
  endpoint: string;
  requests: RecordedRequest[];
  /** The next `times` requests of `method` for `path` get `fault` (for LFS GETs, at the CDN). */
  fail(method: 'HEAD' | 'GET', path: string, fault: Fault, times?: number): void;
  count(method: 'HEAD' | 'GET', path: string): number;
  close(): Promise<void>;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, { fault: Fault; remaining: number }>();
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  const takeFault = (method: string, path: string): Fault | undefined => {
    const entry = faults.get(`${method} ${path}`);
    if (!entry || entry.remaining <= 0) return undefined;
    entry.remaining--;
    return entry.fault;
  };

  const cdn = http.createServer((req, res) => {
    const blob = new URL(req.url ?? '/', 'http://cdn').pathname.replace('/blobs/', '');
    const path = Object.keys(options.files).find((p) => sha256(options.files[p]!) === blob) ?? blob;
    requests.push({ server: 'cdn', method: req.method ?? '', path, revision: undefined, authorization: req.headers.authorization });
    const body = options.files[path];
    if (body === undefined) return void res.writeHead(404).end();
    sendBody(res, body, takeFault('GET', path));
  });
  const cdnOrigin = await listen(cdn);

  const hub = http.createServer((req, res) => {
    const match = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(new URL(req.url ?? '/', 'http://hub').pathname);
    const [repo, revision, path] = match ? [match[1], decodeURIComponent(match[2]!), decodeURIComponent(match[3]!)] : [];
    const method = req.method ?? '';
    requests.push({ server: 'hub', method, path: path ?? '', revision, authorization: req.headers.authorization });
    if (repo !== options.repo) return void res.writeHead(401, { 'x-error-code': 'RepositoryNotFound' }).end();
    if (revision !== 'main' && revision !== options.commit) {
      return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
    }
    const body = options.files[path!];
    if (body === undefined) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
    const isLfs = options.lfs.includes(path!);
    const fault = method === 'HEAD' || !isLfs ? takeFault(method, path!) : undefined;
    if (typeof fault === 'object') return void res.writeHead(fault.status, fault.headers).end();
    const common = { 'x-repo-commit': options.commit };
    if (isLfs) {
      const hash = sha256(body);
      return void res
        .writeHead(302, {
          ...common,
          location: `${cdnOrigin}/blobs/${hash}?signature=secret`,
          etag: `"${hash}"`,
          'x-linked-etag': `"${hash}"`,
          'x-linked-size': String(body.length),
        })
        .end();
    }
    const blobId = createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
    if (method === 'HEAD') return void res.writeHead(200, { ...common, etag: `"${blobId}"`, 'content-length': body.length }).end();
    sendBody(res, body, fault);
  });
  const endpoint = await listen(hub);

  return {
    endpoint,
    requests,
    fail(method, path, fault, times = Number.POSITIVE_INFINITY) {
      faults.set(`${method} ${path}`, { fault, remaining: times });
    },
    count(method, path) {
      // An LFS GET shows up twice (hub redirect, CDN body); the CDN request is the one that moved bytes.
      const server = method === 'GET' && options.lfs.includes(path) ? 'cdn' : 'hub';
      return requests.filter((r) => r.server === server && r.method === method && r.path === path).length;
    },
    async close() {
      for (const server of [hub, cdn]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

function sendBody(res: http.ServerResponse, body: Buffer, fault: Fault | undefined): void {
  if (typeof fault === 'object') return void res.writeHead(fault.status, fault.headers).end();
  const headers = { 'content-length': body.length, 'content-type': 'application/octet-stream' };
  if (fault === 'truncate' || fault === 'stall') {
    res.writeHead(200, headers);
    // 'stall' keeps the socket open and silent; close() ends it.
    res.write(body.subarray(0, body.length >> 1), () => (fault === 'truncate' ? res.socket?.destroy() : undefined));
    return;
  }
  const bytes = fault === 'corrupt' ? Buffer.from(body) : body;
  if (fault === 'corrupt') bytes[0] = bytes[0]! ^ 0xff;
  res.writeHead(200, headers).end(bytes);
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
