/**
 * Removing every Redis key of one queue prefix: `{P}:*` (BullMQ's queue keys and the worker registry), never
 * those of another prefix. SCAN + UNLINK in batches, so a large prefix neither blocks Redis nor loads every key
 * name at once.
 */
import type { Redis } from 'ioredis';

const SCAN_BATCH = 1_000;

/** The SCAN pattern of a prefix's keys; glob characters in the prefix are matched literally. */
export function prefixPattern(queuePrefix: string): string {
  return `{${queuePrefix.replace(/[*?[\]\\]/g, '\\$&')}}:*`;
}

/** Unlinks every key under `{queuePrefix}:` and returns how many were removed. */
export async function removePrefixKeys(redis: Redis, queuePrefix: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', prefixPattern(queuePrefix), 'COUNT', SCAN_BATCH);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
