/**
 * Runs the service's processes as children (`node --import tsx <entry>`), their logs passing straight through.
 * A child marked `restart` (the worker) is started again with exponential backoff when it exits unexpectedly;
 * any other child (the API) exiting unexpectedly stops the whole service with exit code 1, because restarting it
 * would hide a configuration error such as a port in use. stop() forwards the signal and waits for every child.
 * Each child has an IPC channel and stops by itself when it closes, so none outlives a supervisor that was killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { lifecycleLogger, type Logger } from '../../shared/logger.ts';
import { RECYCLE_EXIT_CODE } from '../../worker/memory-watchdog.ts';

export interface ChildSpec {
  /** Used in logs: "api", "worker". */
  name: string;
  /** Entry file relative to `cwd`. */
  entry: string;
  restart: boolean;
  /** Node flags before the entry, e.g. the worker's V8 heap limit. */
  nodeArgs?: readonly string[];
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A child that ran this long before exiting is restarted after initialMs again. */
  stableMs: number;
}

export interface SupervisorOptions {
  children: readonly ChildSpec[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  backoff?: Backoff;
  /**
   * How long stop() waits for a child before SIGKILL: the worker's SHUTDOWN_GRACE_MS plus a margin for handing
   * jobs back and closing (see STOP_MARGIN_MS).
   */
  stopTimeoutMs?: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000, stableMs: 60_000 };
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** After the grace a worker still hands its jobs back, releases the model and closes Redis: a few seconds. */
export const STOP_MARGIN_MS = 10_000;

/** Delay before restart number `failures` (1-based): initial, 2x, 4x, ... capped. */
export function restartDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
}

interface Slot {
  spec: ChildSpec;
  child: ChildProcess | undefined;
  startedAt: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export class Supervisor {
  private readonly slots: Slot[];
  private readonly backoff: Backoff;
  /** Start and exit lines, shown at every log level but silent. */
  private readonly lifecycle: Logger;
  private stopping: Promise<number> | undefined;
  private failed = false;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code once every child is gone after stop() or a fatal child exit. */
  readonly done = new Promise<number>((resolveDone) => (this.resolveDone = resolveDone));

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.lifecycle = lifecycleLogger(options.logger);
    this.slots = options.children.map((spec) => ({ spec, child: undefined, startedAt: 0, failures: 0, restartTimer: undefined }));
  }

  start(): void {
    for (const slot of this.slots) this.spawn(slot);
  }

  /** Forwards `signal` to every child and resolves with the exit code when all have exited; idempotent. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.stopping ??= this.stopAll(signal);
    return this.stopping;
  }

  private spawn(slot: Slot): void {
    const { cwd, env } = this.options;
    const args = [...(slot.spec.nodeArgs ?? []), '--import', 'tsx', resolve(cwd, slot.spec.entry)];
    // The IPC channel is how a child notices that the supervisor is gone, even when it was SIGKILLed.
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    slot.child = child;
    slot.startedAt = Date.now();
    this.lifecycle.info({ child: slot.spec.name, pid: child.pid }, `${slot.spec.name} started`);
    child.once('exit', (code, signal) => this.onExit(slot, child, code, signal));
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child === child) slot.child = undefined;
    const { logger } = this.options;
    const fields = { child: slot.spec.name, pid: child.pid, code, signal };
    if (this.stopping) {
      this.lifecycle.info(fields, `${slot.spec.name} exited`);
      return;
    }
    if (slot.spec.restart && code === RECYCLE_EXIT_CODE) {
      // A planned exit (memory cap reached, jobs finished or handed back): replace it at once, no backoff.
      logger.info(fields, `${slot.spec.name} recycled itself; starting a fresh one`);
      this.spawn(slot);
      return;
    }
    if (!slot.spec.restart) {
      logger.error(fields, `${slot.spec.name} exited unexpectedly; stopping the service`);
      this.failed = true;
      void this.stop();
      return;
    }
    slot.failures = Date.now() - slot.startedAt >= this.backoff.stableMs ? 1 : slot.failures + 1;
    const delayMs = restartDelay(this.backoff, slot.failures);
    logger.warn({ ...fields, delayMs, restarts: slot.failures }, `${slot.spec.name} exited unexpectedly; restarting in ${delayMs} ms`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!this.stopping) this.spawn(slot);
    }, delayMs);
  }

  private async stopAll(signal: NodeJS.Signals): Promise<number> {
    const stopTimeoutMs = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const results = await Promise.all(
      this.slots.map((slot) => {
        clearTimeout(slot.restartTimer);
        return slot.child ? stopChild(slot.child, signal, stopTimeoutMs, this.options.logger) : true;
      }),
    );
    const code = this.failed || results.includes(false) ? 1 : 0;
    this.resolveDone(code);
    return code;
  }
}

/** True when the child exited by itself after the signal (cleanly or by it), false when it had to be killed. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number, logger: Logger): Promise<boolean> {
  return new Promise((resolveStopped) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStopped(child.exitCode === 0);
    const timer = setTimeout(() => {
      logger.error({ pid: child.pid, timeoutMs }, 'child did not stop in time; killing it');
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, exitSignal) => {
      clearTimeout(timer);
      resolveStopped(code === 0 || exitSignal === signal);
    });
    child.kill(signal);
  });
}
