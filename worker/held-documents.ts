/**
 * A bound on the document text this worker process holds at once, across its BullMQ workers (/rerank jobs and bulk
 * chunks). Every fetched job holds all its documents until it ends, so WORKER_CONCURRENCY jobs of MAX_DOCUMENTS
 * long documents, and bulk chunks beside them, would hold that many times the largest body. Once the text held
 * reaches WORKER_MAX_ACTIVE_TEXT_MB, each worker's concurrency is lowered to the jobs it already holds (at least
 * one), so BullMQ fetches no more (it fetches on 'active', before the job runs, hence the hook there); it is raised
 * again as jobs end. Small jobs still run at full concurrency; a single job larger than the bound still runs.
 */
import type { Job } from 'bullmq';
import { documentCharsOf } from '../shared/job-documents.ts';

/** BullMQ's Worker: its concurrency setter is what stops the fetching. */
export interface ConcurrencyControl {
  concurrency: number;
}

/** What one BullMQ worker reports: add on 'active', release when the job's run has ended, however it ended. */
export interface HeldJobs {
  add(job: Pick<Job, 'id' | 'data'>): void;
  release(jobId: string | undefined): void;
}

interface Gate {
  worker: ConcurrencyControl;
  maxConcurrency: number;
  held: Map<string, number>;
}

export class HeldDocuments {
  private readonly gates: Gate[] = [];
  private heldChars = 0;

  constructor(private readonly budgetChars: number) {}

  get chars(): number {
    return this.heldChars;
  }

  /** Bounds what `worker` fetches by the text held across every worker registered here. */
  register(worker: ConcurrencyControl, maxConcurrency: number): HeldJobs {
    const gate: Gate = { worker, maxConcurrency, held: new Map() };
    this.gates.push(gate);
    return {
      add: (job) => {
        const id = String(job.id);
        if (gate.held.has(id)) return;
        const chars = documentCharsOf(job.data);
        gate.held.set(id, chars);
        this.heldChars += chars;
        this.adjust();
      },
      release: (jobId) => {
        const chars = gate.held.get(String(jobId));
        if (chars === undefined) return;
        gate.held.delete(String(jobId));
        this.heldChars -= chars;
        this.adjust();
      },
    };
  }

  private adjust(): void {
    const full = this.heldChars >= this.budgetChars;
    for (const { worker, maxConcurrency, held } of this.gates) {
      worker.concurrency = full ? Math.max(1, held.size) : maxConcurrency;
    }
  }
}
