/**
 * The worker's memory cap (WORKER_MAX_RSS_MB), second line of defence after the bounds by design (token budget,
 * character cut, heap limit). It samples the process's real RSS:
 *
 * - at the soft mark (85% of the cap) the worker takes no new jobs; it takes them again below 80%;
 * - at the cap, or when it is still above the soft mark with no job left to finish (native arenas rarely give
 *   memory back, so waiting would idle it forever), it recycles: finishes or hands back its jobs and exits with
 *   RECYCLE_EXIT_CODE so that the supervisor or the container runtime starts a fresh process.
 *
 * A worker that is idle above the soft mark before its first job is neither held nor recycled: that is a cap set
 * below what the loaded model needs, and a fresh process would be no better. It is logged, and jobs still run.
 */
import type { Logger } from '../shared/logger.ts';

/** EX_TEMPFAIL: "try again", distinct from a crash (1) and a clean stop (0). */
export const RECYCLE_EXIT_CODE = 75;
export const SOFT_MARK = 0.85;
export const RESUME_MARK = 0.8;
const SAMPLE_INTERVAL_MS = 250;

export type MemoryVerdict = 'ok' | 'hold' | 'recycle';

export interface MemoryState {
  rssMb: number;
  capMb: number;
  activeJobs: number;
  /** Intake is already held for memory (hysteresis: released only below RESUME_MARK). */
  held: boolean;
  /** Jobs finished since start; 0 means the cap is below the idle model, not a growth to shed. */
  finishedJobs: number;
}

export function judgeMemory(state: MemoryState): MemoryVerdict {
  const { rssMb, capMb, activeJobs, held, finishedJobs } = state;
  if (rssMb >= capMb) return 'recycle';
  const high = (held ? RESUME_MARK : SOFT_MARK) * capMb;
  if (rssMb < high) return 'ok';
  if (activeJobs > 0) return 'hold';
  return finishedJobs > 0 ? 'recycle' : 'ok';
}

export interface WatchdogOptions {
  capMb: number;
  logger: Logger;
  /** Jobs running now, and finished since start. */
  jobs: () => { active: number; finished: number };
  onHold: (rssMb: number) => void;
  onRelease: (rssMb: number) => void;
  /** Called once; the watchdog stops itself. */
  onRecycle: (rssMb: number) => void;
  readRssBytes?: () => number;
}

export class MemoryWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private warnedIdle = false;

  constructor(private readonly options: WatchdogOptions) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): MemoryVerdict {
    const { capMb, logger, jobs, onHold, onRelease, onRecycle } = this.options;
    const rssMb = Math.round((this.options.readRssBytes ?? process.memoryUsage.rss)() / 1024 / 1024);
    const { active, finished } = jobs();
    const verdict = judgeMemory({ rssMb, capMb, activeJobs: active, held: this.held, finishedJobs: finished });
    if (verdict === 'recycle') {
      this.stop();
      onRecycle(rssMb);
    } else if (verdict === 'hold' && !this.held) {
      this.held = true;
      onHold(rssMb);
    } else if (verdict === 'ok' && this.held) {
      this.held = false;
      onRelease(rssMb);
    }
    if (verdict === 'ok' && active === 0 && finished === 0 && rssMb >= SOFT_MARK * capMb && !this.warnedIdle) {
      this.warnedIdle = true;
      logger.error({ rssMb, capMb }, 'the idle worker is above the soft memory mark: WORKER_MAX_RSS_MB is too low');
    }
    return verdict;
  }
}
