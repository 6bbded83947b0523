/**
 * API_KEYS: which bearer keys exist and what each may do. Entries are comma-separated:
 *
 *   <key>[:<scope>+<scope>...]            the key itself (no ',' or ':' in it)
 *   sha256:<64 hex>[:<scope>+<scope>...]  the sha256 of the key, so the clear key need not be stored
 *
 * An entry without a scope list has every scope. Only digests are kept: a presented key is hashed and its digest
 * compared with every stored one in constant time, so neither timing nor a memory dump gives a key away.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../../shared/config.ts';

export const SCOPES = ['rerank', 'jobs', 'metrics'] as const;
/** rerank: POST /rerank and the compatibility routes; jobs: reading jobs; metrics: GET /metrics. */
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  /** sha256 of the key: compared, and (shortened) the key's identity for rate limits and logs. */
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

/** Thrown for a malformed API_KEYS; the message names the entry's position, never its text (it is a secret). */
export class ApiKeysError extends ConfigError {
  override name = 'ApiKeysError';
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

function parseScopes(list: string | undefined, position: number): ReadonlySet<Scope> {
  if (list === undefined) return new Set(SCOPES);
  const scopes = list.split('+').map((scope) => scope.trim());
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new ApiKeysError(`API_KEYS entry ${position}: unknown scope; expected ${SCOPES.join(', ')} joined by +`);
    }
  }
  return new Set(scopes as Scope[]);
}

function parseEntry(entry: string, position: number): ApiKey {
  const hashed = entry.match(/^sha256:([0-9a-fA-F]{64})(?::(.*))?$/);
  if (hashed) return { digest: Buffer.from(hashed[1]!, 'hex'), scopes: parseScopes(hashed[2], position) };
  if (entry.startsWith('sha256:')) throw new ApiKeysError(`API_KEYS entry ${position}: sha256: needs 64 hex digits`);
  const colon = entry.indexOf(':');
  const key = colon === -1 ? entry : entry.slice(0, colon);
  if (key === '' || /\s/.test(key)) throw new ApiKeysError(`API_KEYS entry ${position}: empty key or whitespace in it`);
  return { digest: sha256(key), scopes: parseScopes(colon === -1 ? undefined : entry.slice(colon + 1), position) };
}

export function parseApiKeys(value: string): ApiKey[] {
  const keys = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => parseEntry(entry, index + 1));
  if (keys.length === 0) throw new ApiKeysError('API_KEYS holds no key');
  return keys;
}

/** The entry a presented key belongs to, or undefined. Looks at every entry, whatever matches first. */
export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const digest = sha256(presented);
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, digest) && !found) found = key;
  return found;
}

/** A short, stable, non-secret name for a key: for rate-limit buckets and logs. */
export const keyId = (key: ApiKey) => key.digest.subarray(0, 8).toString('hex');
