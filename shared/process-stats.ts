/**
 * The seed's process metrics (memory.rss_mb, memory.vms_mb, cpu_percent, num_threads), measured the same way
 * for the API and the worker. Linux /proc gives VmSize and the thread count; elsewhere they fall back.
 */
import { readFileSync } from 'node:fs';
import { round1 } from './figures.ts';

export interface ProcessStats {
  /** rss_mb and vms_mb are the seed's; the V8 heap figures tell a JavaScript leak from native memory. */
  memory: { rss_mb: number; vms_mb: number; heap_used_mb: number; heap_total_mb: number };
  cpu_percent: number;
  num_threads: number;
}

const MB = 1024 * 1024;

function procStatusField(name: string): number | undefined {
  try {
    const match = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU percent is measured between successive calls (like psutil's cpu_percent(interval=None)). */
export class ProcessStatsSampler {
  private lastCpu = process.cpuUsage();
  private lastTime = process.hrtime.bigint();

  sample(): ProcessStats {
    const cpu = process.cpuUsage();
    const now = process.hrtime.bigint();
    const cpuMicros = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const wallMicros = Number(now - this.lastTime) / 1_000;
    this.lastCpu = cpu;
    this.lastTime = now;
    const vmsKb = procStatusField('VmSize');
    const { rss, heapUsed, heapTotal } = process.memoryUsage();
    return {
      memory: {
        rss_mb: round1(rss / MB),
        vms_mb: round1(vmsKb === undefined ? 0 : vmsKb / 1024),
        heap_used_mb: round1(heapUsed / MB),
        heap_total_mb: round1(heapTotal / MB),
      },
      cpu_percent: wallMicros > 0 ? round1((100 * cpuMicros) / wallMicros) : 0,
      num_threads: procStatusField('Threads') ?? 1,
    };
  }
}
