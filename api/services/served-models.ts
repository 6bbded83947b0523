/**
 * Which served model a request gets, and the job settings its workers actually use. The dedupe key (job-id.ts)
 * must hash the max length the model's workers score with, which is theirs (MAX_SEQ_LENGTH capped by the model),
 * not the API's: it comes from the workers' own reports, read at most every REPORTS_MAX_AGE_MS.
 */
import type { Config } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';
import { defaultModelOf, modelAliases, servedModelNames } from '../../shared/served-models.ts';
import type { WorkerReport } from '../../shared/worker-registry.ts';
import type { RerankQueue } from '../plugins/queue.ts';

/** A served model with the queue its workers consume and the max length they score with. */
export interface ModelTarget {
  name: string;
  maxLength: number;
  queue: RerankQueue;
}

export interface ServedModelsOptions {
  config: Config;
  /** One queue per served model name. */
  queues: ReadonlyMap<string, RerankQueue>;
  /** The live workers' reports (shared/worker-registry.ts). */
  workerReports(): Promise<WorkerReport[]>;
}

/** Workers report every WORKER_HEARTBEAT_MS; their max length changes only when one restarts with other settings. */
const REPORTS_MAX_AGE_MS = 5_000;

export class ServedModels {
  readonly names: readonly string[];
  readonly defaultName: string;
  private readonly aliases: Map<string, string>;
  private lengths?: { at: number; byModel: Promise<Map<string, number>> };

  constructor(private readonly options: ServedModelsOptions) {
    this.names = servedModelNames(options.config);
    this.defaultName = defaultModelOf(options.config);
    this.aliases = modelAliases(options.config);
  }

  /**
   * The served model a request names: absent is the default; a served name, an alias (MODEL_ALIASES) or a hub id
   * whose last segment is a served name (cross-encoder/ms-marco-TinyBERT-L-2-v2) is that model; else a 400.
   */
  resolve(requested: string | null | undefined): string {
    if (requested === undefined || requested === null) return this.defaultName;
    const name = this.aliases.get(requested) ?? requested.slice(requested.lastIndexOf('/') + 1);
    if (this.names.includes(name)) return name;
    const served = [...this.names];
    throw new ServiceError('UNKNOWN_MODEL', `Unknown model "${requested}"; served: ${served.join(', ')}.`, { served });
  }

  async target(requested: string | null | undefined): Promise<ModelTarget> {
    const name = this.resolve(requested);
    const queue = this.options.queues.get(name);
    if (!queue) throw new Error(`no queue for served model ${name}`);
    const reported = (await this.reportedLengths()).get(name);
    return { name, queue, maxLength: reported ?? this.options.config.MAX_SEQ_LENGTH };
  }

  /** Max length per model from the live workers' reports; empty when they cannot be read (config applies). */
  private reportedLengths(): Promise<Map<string, number>> {
    if (this.lengths && performance.now() - this.lengths.at < REPORTS_MAX_AGE_MS) return this.lengths.byModel;
    const byModel = this.options
      .workerReports()
      .then(lengthsByModel)
      .catch(() => {
        // Not kept: the next request reads again.
        if (this.lengths?.byModel === byModel) this.lengths = undefined;
        return new Map<string, number>();
      });
    this.lengths = { at: performance.now(), byModel };
    return byModel;
  }
}

/**
 * Deps (rerank.ts RerankDeps) retargeted at the model a request names: that model's queue, and the name and max
 * length its jobs carry.
 */
export async function depsForModel<D extends { queue: RerankQueue; model: { model: string; maxLength: number } }>(
  deps: D,
  models: ServedModels,
  requested: string | null | undefined,
): Promise<D> {
  const target = await models.target(requested);
  return { ...deps, queue: target.queue, model: { model: target.name, maxLength: target.maxLength } };
}

/** A ready worker's word first; workers of one model share their settings (docs/operations.md). */
function lengthsByModel(reports: WorkerReport[]): Map<string, number> {
  const lengths = new Map<string, number>();
  const readyFirst = [...reports].sort((a, b) => Number(b.state === 'ready') - Number(a.state === 'ready'));
  for (const report of readyFirst) if (!lengths.has(report.model)) lengths.set(report.model, report.max_length);
  return lengths;
}
