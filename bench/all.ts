/**
 * `npm run bench [-- --quick] [--write]`: every benchmark, one after another, each in its own process so that
 * one's memory and threads do not colour the next. --quick (what CI runs) shrinks each to a smoke run that checks
 * the benchmarks still work and asserts nothing about speed; --write records the full runs in BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

interface Bench {
  script: string;
  /** Flags this benchmark understands, of those passed to `npm run bench`. */
  accepts: readonly string[];
  /** Skipped by --quick: too long for a smoke run, and covered by the others. */
  full?: boolean;
}

const BENCHES: readonly Bench[] = [
  { script: 'engine.ts', accepts: ['--quick'] },
  { script: 'compare.ts', accepts: ['--quick', '--write'] },
  { script: 'service-load.ts', accepts: ['--quick', '--write'] },
  { script: 'api-abuse.ts', accepts: [], full: true },
  { script: 'bulk.ts', accepts: [], full: true },
  { script: 'worker-memory.ts', accepts: [], full: true },
  { script: 'service.ts', accepts: [], full: true },
];

const flags = process.argv.slice(2);
const quick = flags.includes('--quick');
let failed = 0;
for (const bench of BENCHES) {
  if (quick && bench.full) continue;
  const args = flags.filter((flag) => bench.accepts.includes(flag));
  process.stdout.write(`\n=== bench/${bench.script} ${args.join(' ')}\n`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, bench.script), ...args], { stdio: 'inherit' });
  if (run.status !== 0) failed += 1;
}
process.exitCode = failed === 0 ? 0 : 1;
