/**
 * Just enough of a Dockerfile parser to check our two images without a Docker engine: instructions grouped by
 * stage, exec-form arguments, and what each stage copies in. Also the import closure of a TypeScript entry file,
 * to check that an image holds every module (and every package) its entry needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  /** The `FROM` line's image or stage. */
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Stages in order; comment lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const match = line.trim().match(/^([A-Za-z]+)\s+(.*)$/s);
    if (!match) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') {
      const from = args.match(/^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i);
      stages.push({ base: from?.[1] ?? args, name: from?.[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${keyword} before any FROM`);
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

/** Exec (JSON array) form of CMD / ENTRYPOINT / HEALTHCHECK CMD; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const json = args.replace(/^(?:--\S+\s+)*CMD\s+/i, '');
  if (!json.startsWith('[')) return undefined;
  return JSON.parse(json) as string[];
}

export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

export interface CopyInstruction {
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function copies(stage: Stage): CopyInstruction[] {
  return instructions(stage, 'COPY').map(({ args }) => {
    const from = args.match(/--from=(\S+)/)?.[1];
    const paths = args
      .split(/\s+/)
      .filter((word) => !word.startsWith('--'));
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
  });
}

/**
 * Repo-relative paths a stage has under its WORKDIR (/app), including what it inherits from its parent stage:
 * `COPY a b ./` puts a and b at the root, `COPY dir ./dir` puts dir at dir.
 */
export function copiedPaths(stages: Stage[], stage: Stage): string[] {
  const parent = stages.find((candidate) => candidate.name === stage.base);
  const inherited = parent ? copiedPaths(stages, parent) : [];
  const own = copies(stage)
    .filter((copy) => copy.from === undefined)
    .flatMap(({ sources, destination }) =>
      destination.endsWith('/') ? sources : [destination.replace(/^\.\//, '')],
    );
  return [...inherited, ...own];
}

export function isCovered(path: string, copied: readonly string[]): boolean {
  return copied.some((entry) => path === entry || path.startsWith(`${entry.replace(/\/$/, '')}/`));
}

const builtins = new Set(builtinModules);

/** A bare import specifier's package name: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Repo-relative files and npm packages an entry file loads at runtime, transitively. Type-only imports are
 * erased by tsx, so they load nothing.
 */
export function importClosure(root: string, entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    const rel = relative(root, file);
    if (files.has(rel)) return;
    files.add(rel);
    const source = readFileSync(file, 'utf8');
    const specifiers = [
      ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
      ...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((match) => match[1]!);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (!existsSync(target)) throw new Error(`${rel} imports ${specifier}, which does not exist`);
        visit(target);
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        packages.add(packageName(specifier));
      }
    }
  };
  visit(join(root, entry));
  return { files: [...files].sort(), packages: [...packages].sort() };
}
