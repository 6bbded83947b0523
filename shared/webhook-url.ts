/**
 * Which callback URLs the service may call: absolute http(s) URLs without credentials whose host is in
 * WEBHOOK_ALLOWED_HOSTS (`host` allows any port, `host:port` one port). The API checks a callback_url when a job
 * is submitted (400), and the webhook worker checks again before every attempt, so a host that is not (or no
 * longer) allowed is never called.
 */
import type { ErrorCode } from './errors.ts';

export interface AllowedHost {
  /** Lower case; IPv6 addresses in brackets, as URL.hostname gives them. */
  hostname: string;
  /** Unset: any port. */
  port?: string;
}

export interface CallbackUrlProblem {
  code: Extract<ErrorCode, 'INVALID_CALLBACK_URL' | 'CALLBACK_NOT_ALLOWED'>;
  message: string;
}

const MAX_URL_CHARS = 2_048;
const HOST_ENTRY = /^(\[[0-9a-f:.]+\]|[^:[\]/]+)(?::(\d{1,5}))?$/;

/** Parses WEBHOOK_ALLOWED_HOSTS; entries that are not `host` or `host:port` are ignored. */
export function parseAllowedHosts(list: string | undefined): AllowedHost[] {
  const hosts: AllowedHost[] = [];
  for (const entry of (list ?? '').split(',')) {
    const match = entry.trim().toLowerCase().match(HOST_ENTRY);
    const [, hostname, port] = match ?? [];
    if (hostname) hosts.push(port ? { hostname, port: String(Number(port)) } : { hostname });
  }
  return hosts;
}

const effectivePort = (url: URL) => url.port || (url.protocol === 'https:' ? '443' : '80');

/** Why this URL may not be called, or undefined when it may. */
export function callbackUrlProblem(url: string, allowedHosts: string | undefined): CallbackUrlProblem | undefined {
  const allowed = parseAllowedHosts(allowedHosts);
  if (allowed.length === 0) {
    return {
      code: 'CALLBACK_NOT_ALLOWED',
      message: 'callback_url is not accepted: this server calls no webhooks (WEBHOOK_ALLOWED_HOSTS is not set).',
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { code: 'INVALID_CALLBACK_URL', message: 'callback_url is not an absolute URL.' };
  }
  if (url.length > MAX_URL_CHARS) {
    return { code: 'INVALID_CALLBACK_URL', message: `callback_url is longer than ${MAX_URL_CHARS} characters.` };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { code: 'INVALID_CALLBACK_URL', message: 'callback_url must use http or https.' };
  }
  if (parsed.username || parsed.password) {
    return { code: 'INVALID_CALLBACK_URL', message: 'callback_url must not carry credentials (user:password@).' };
  }
  const port = effectivePort(parsed);
  if (!allowed.some((host) => host.hostname === parsed.hostname && (host.port === undefined || host.port === port))) {
    return {
      code: 'CALLBACK_NOT_ALLOWED',
      message: `callback_url host ${parsed.host} is not in this server's WEBHOOK_ALLOWED_HOSTS.`,
    };
  }
  return undefined;
}
