/**
 * A bulk job's status for a caller who may not see internals (api/auth/owner.ts, seesWorkerIds): each worker's
 * hostname-pid becomes an opaque label, so the status still says how the chunks were shared, not where they ran.
 */
import type { BulkJobStatus } from '../../../shared/schemas/bulk.ts';

export function withoutWorkerIds(status: BulkJobStatus): BulkJobStatus {
  return { ...status, workers: status.workers.map((worker, k) => ({ ...worker, worker_id: `worker-${k + 1}` })) };
}
