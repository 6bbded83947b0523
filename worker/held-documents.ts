/**
 * A bound on the document text this worker holds at once. Every fetched job holds all its documents (the job
 * data) until it ends, so WORKER_CONCURRENCY jobs of MAX_DOCUMENTS long documents would hold that many times the
 * largest body. Once the text held reaches WORKER_MAX_ACTIVE_TEXT_MB, the worker's concurrency is lowered to the
 * jobs it already holds, so BullMQ fetches no more (it fetches on 'active', before the job runs, hence the hook
 * there); it is raised again as jobs end. Small jobs still run WORKER_CONCURRENCY at once; a single job larger than
 * the bound still runs, alone.
 */
import type { Job } from 'bullmq';
import { documentsListOf } from '../shared/job-documents.ts';

export interface HeldDocumentsOptions {
  /** BullMQ's Worker: its concurrency setter is what stops the fetching. */
  worker: { concurrency: number };
  maxConcurrency: number;
  budgetChars: number;
}

export class HeldDocuments {
  private readonly held = new Map<string, number>();
  private heldChars = 0;

  constructor(private readonly options: HeldDocumentsOptions) {}

  get chars(): number {
    return this.heldChars;
  }

  /** On BullMQ's 'active' event: the job's data is in memory now. */
  add(job: Pick<Job, 'id' | 'data'>): void {
    const id = String(job.id);
    if (this.held.has(id)) return;
    const chars = documentChars(job.data);
    this.held.set(id, chars);
    this.heldChars += chars;
    this.adjust();
  }

  /** When the job's run has ended, however it ended. */
  release(jobId: string | undefined): void {
    const chars = this.held.get(String(jobId));
    if (chars === undefined) return;
    this.held.delete(String(jobId));
    this.heldChars -= chars;
    this.adjust();
  }

  private adjust(): void {
    const { worker, maxConcurrency, budgetChars } = this.options;
    worker.concurrency = this.heldChars >= budgetChars ? Math.max(1, this.held.size) : maxConcurrency;
  }
}

function documentChars(data: unknown): number {
  // A list's documents are not in memory yet at 'active', but will be for the whole run.
  const list = documentsListOf(data);
  if (list) return list.chars;
  const documents = (data as { documents?: unknown } | null)?.documents;
  if (!Array.isArray(documents)) return 0;
  let chars = 0;
  for (const document of documents) if (typeof document === 'string') chars += document.length;
  return chars;
}
