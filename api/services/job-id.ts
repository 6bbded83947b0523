/**
 * Identical requests of one owner share one job: its id is a hash of the owner and everything that determines the
 * scores. top_k is not in it (the API cuts the ranking), so requests differing only in top_k share the job too.
 * The owner (api/auth/owner.ts) is part of it: another key's identical request gets a job of its own, so no client
 * can learn, from a result reused at once or a wait cut short, that someone else sent the same body.
 */
import { createHash } from 'node:crypto';
import type { RerankJobData } from '../../shared/queue.ts';

/** "rr-" keeps the id from ever being all digits (BullMQ reads those as its own counters); hex has no ':'. */
export function jobIdFor(data: RerankJobData, owner: string): string {
  // An array fixes the field order, so the same request always hashes the same. Chunk settings change the scores;
  // left out when absent, so truncating jobs keep their ids. Documents are hashed one by one, each after its length
  // (which keeps the input unambiguous): serialising 16 MB of them into one string first held the event loop for
  // hundreds of milliseconds.
  const key = [owner, data.model, data.maxLength, data.raw, data.query, data.documents.length];
  const hash = createHash('sha256').update(
    JSON.stringify(data.chunk ? [...key, data.chunk.overlapTokens, data.chunk.maxChunks] : key),
  );
  for (const document of data.documents) hash.update(`${document.length}:`).update(document);
  return `rr-${hash.digest('hex')}`;
}
