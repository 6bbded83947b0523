/**
 * HTTP over a raw TCP socket, for requests no HTTP client would send: the bytes go out exactly as given (in
 * pieces, with pauses, when asked), and whatever comes back is parsed as one response, or reported as none.
 */
import { connect } from 'node:net';

export interface RawResponse {
  /** 0 when the connection ended without a response. */
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

export interface RawRequestOptions {
  /** Sent one after another, `pauseMs` apart; the socket's write side is left open. */
  pieces?: (string | Buffer)[];
  pauseMs?: number;
  /** Gives up (status 0) after this long. */
  timeoutMs?: number;
}

export function parseResponse(raw: Buffer): Omit<RawResponse, 'ms'> {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return { status: 0, headers: {}, body: raw.toString('utf8') };
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(statusLine.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  const length = Number(headers['content-length']);
  if (Number.isInteger(length)) body = body.subarray(0, length);
  return { status, headers, body: body.toString('utf8') };
}

/** Writes `request` (then any pieces), reads until the server closes or a full response has arrived. */
export function rawRequest(port: number, request: string | Buffer, options: RawRequestOptions = {}): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const writes: NodeJS.Timeout[] = [];
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const write of writes) clearTimeout(write);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(chunks)), ms: performance.now() - started });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 15_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const parsed = parseResponse(Buffer.concat(chunks));
      const length = Number(parsed.headers['content-length']);
      if (parsed.status && Number.isInteger(length) && Buffer.byteLength(parsed.body) >= length) finish();
    });
    // A reset after the answer is normal for refused uploads; what was read so far still counts.
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(request);
    const pieces = options.pieces ?? [];
    pieces.forEach((piece, index) => {
      writes.push(setTimeout(() => socket.writable && socket.write(piece), (index + 1) * (options.pauseMs ?? 0)));
    });
  });
}

/** A request with Content-Length and Connection: close; `headers` come as given (duplicates and all). */
export function httpRequest(method: string, path: string, headers: string[], body: string | Buffer = ''): Buffer {
  const bodyBuffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers];
  if (!headers.some((header) => /^(content-length|transfer-encoding):/i.test(header)) && bodyBuffer.length > 0) {
    head.push(`Content-Length: ${bodyBuffer.length}`);
  }
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), bodyBuffer]);
}
