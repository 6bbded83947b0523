/** Shared by the benchmarks: passages, number formatting, tables, the machine line, and BENCHMARKS.md sections. */
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';

const WORDS = (
  'tides are the rise and fall of sea levels caused by the combined effects of gravitational forces exerted by ' +
  'the moon and the sun most places in the ocean usually experience two high tides and two low tides each day ' +
  'coastal ecosystems such as salt marshes depend on regular flooding isaac newton explained tides in his principia'
).split(' ');

/** `count` deterministic passages of `words` words each (MS MARCO-like text). */
export function wordPassages(count: number, words: number): string[] {
  let state = 42;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => Array.from({ length: words }, () => WORDS[next() % WORDS.length]).join(' '));
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function printTable(header: string[], rows: string[][], log: (line: string) => void = console.log): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  log(line(header));
  log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) log(line(r));
}

export function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
}

const BENCHMARKS = resolve(import.meta.dirname, '../../BENCHMARKS.md');

/** Replaces (or appends) the section between `<!-- bench:NAME -->` markers in BENCHMARKS.md. */
export async function recordInBenchmarks(name: string, command: string, lines: string[]): Promise<void> {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const body = [start, `Recorded ${new Date().toISOString()} with \`${command}\`:`, '', ...lines, end].join('\n');
  const text = await readFile(BENCHMARKS, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next = from >= 0 && to > from ? `${text.slice(0, from)}${body}${text.slice(to + end.length)}` : `${text.trimEnd()}\n\n${body}\n`;
  await writeFile(BENCHMARKS, next);
}
