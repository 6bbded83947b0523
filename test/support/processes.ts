/**
 * Real service processes for integration tests: spawn an entry file with tsx, collect its JSON log lines, wait
 * for a line that says it is ready (with a deadline, never a sleep), and stop it cleanly at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface LogLine {
  msg?: string;
  level?: number;
  [field: string]: unknown;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  /** stderr and non-JSON stdout, for failure messages. */
  readonly rawOutput: string[];
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  waitForExit(timeoutMs?: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  /** Repo-relative entry file, e.g. 'api/main.ts'. */
  entry: string;
  env: Record<string, string>;
  args?: string[];
}

const baseEnv = (env: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  LOG_LEVEL: 'info',
  ...env,
});

/**
 * A bare worker has no supervisor to replace it when its memory watchdog recycles it (exit 75), and it runs without
 * npm's heap flags, so a few large jobs can take it past 85% of the default cap and leave the queue with no worker.
 * Tests of other things get a cap out of the way; worker-memory.test.ts sets its own to test the recycle.
 */
const BARE_WORKER_RSS_CAP_MB = '4096';

export function spawnService(options: SpawnOptions): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(REPO_ROOT, options.entry), ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: baseEnv({ WORKER_MAX_RSS_MB: BARE_WORKER_RSS_CAP_MB, ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, options.entry);
}

/** `npm <args>` in the repository, as a user runs it (e.g. ['start'], ['run', 'demo']). */
export function spawnNpm(args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn('npm', args, { cwd: REPO_ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  return track(child, `npm ${args.join(' ')}`);
}

/** True while `pid` is a live process (a zombie waiting for a parent that will never reap it counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function track(child: ChildProcess, label: string): ServiceProcess {
  const lines: LogLine[] = [];
  const rawOutput: string[] = [];
  const waiters = new Set<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();

  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      rawOutput.push(text);
      return;
    }
    lines.push(line);
    for (const waiter of waiters) if (waiter.predicate(line)) waiter.resolve(line);
  });
  createInterface({ input: child.stderr! }).on('line', (text) => rawOutput.push(text));
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const describe = () => `${label} output:\n${[...lines.map((l) => JSON.stringify(l)), ...rawOutput].join('\n')}`;

  return {
    child,
    lines,
    rawOutput,
    waitForLine(predicate, timeoutMs = 30_000) {
      const seen = lines.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolvePromise, reject) => {
        const waiter = {
          predicate,
          resolve: (line: LogLine) => {
            cleanup();
            resolvePromise(line);
          },
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line; ${describe()}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`process exited (${code}) before the awaited log line; ${describe()}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          child.off('exit', onExit);
        };
        waiters.add(waiter);
        child.once('exit', onExit);
      });
    },
    async waitForExit(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} did not exit in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      try {
        return await this.waitForExit(15_000);
      } catch {
        child.kill('SIGKILL');
        return await exited;
      }
    },
  };
}
