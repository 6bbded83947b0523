/**
 * No Docker engine runs here, so the images are checked as files: named stages, a non-root user, a HEALTHCHECK,
 * node (under tini) as the entry process, production-only installs, every `npm run X` a script of package.json,
 * and every module and package the entry files load present in the final stage. The API's inline healthcheck is
 * run for real against a local HTTP server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  copiedPaths,
  copies,
  execForm,
  importClosure,
  instructions,
  isCovered,
  parseDockerfile,
  type Stage,
} from '../support/dockerfile.ts';
import { REPO_ROOT } from '../support/processes.ts';
import { WORKER_NODE_ARGS } from '../../scripts/lib/service.ts';

const DOCKERFILES = ['Dockerfile.api', 'Dockerfile.worker'] as const;
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

const load = (file: string): Stage[] => parseDockerfile(readFileSync(join(REPO_ROOT, file), 'utf8'));
const finalStage = (stages: Stage[]): Stage => stages.at(-1)!;

/** The TypeScript file a `node [flags] FILE` or `tsx FILE` command runs, if any. */
function entryFile(argv: readonly string[]): string | undefined {
  const valueFlags = new Set(['--import', '--require', '-r', '--env-file']);
  for (let index = 1; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === '-e' || word === '--eval') return undefined;
    if (valueFlags.has(word)) index++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

/** Every module the entry loads is in the stage, and every package it loads is a production dependency. */
function assertRunnable(file: string, stages: Stage[], stage: Stage, entry: string): void {
  assert.ok(existsSync(join(REPO_ROOT, entry)), `${file}: ${entry} does not exist`);
  const copied = copiedPaths(stages, stage);
  const closure = importClosure(REPO_ROOT, entry);
  const missing = closure.files.filter((path) => !isCovered(path, copied));
  assert.deepEqual(missing, [], `${file}, stage ${stage.name}: ${entry} needs files the stage does not copy`);
  const notProduction = closure.packages.filter((name) => !(name in pkg.dependencies));
  assert.deepEqual(notProduction, [], `${file}: ${entry} loads packages that npm ci --omit=dev does not install`);
}

for (const file of DOCKERFILES) {
  test(`${file}: named stages, production install, non-root user, HEALTHCHECK, node under tini`, () => {
    const stages = load(file);
    assert.ok(stages.length >= 2, `${file} is multi-stage`);
    for (const stage of stages) assert.ok(stage.name, `${file}: FROM ${stage.base} has no AS name`);
    const last = finalStage(stages);
    const runs = instructions(last, 'RUN').map(({ args }) => args);
    assert.ok(runs.some((run) => /\bnpm ci\b.*--omit=dev/.test(run)), `${file}: final stage runs npm ci --omit=dev`);
    const users = instructions(last, 'USER');
    assert.ok(users.length > 0, `${file}: final stage sets USER`);
    assert.ok(!['root', '0'].includes(users.at(-1)!.args.split(':')[0]!), `${file}: USER is not root`);
    const [healthcheck, ...more] = instructions(last, 'HEALTHCHECK');
    assert.ok(healthcheck && more.length === 0, `${file}: one HEALTHCHECK`);
    assert.equal(execForm(healthcheck.args)?.[0], 'node', `${file}: HEALTHCHECK runs node (no curl in the image)`);
    assert.deepEqual(execForm(instructions(last, 'ENTRYPOINT').at(-1)?.args ?? ''), ['/usr/bin/tini', '--']);
    assert.equal(execForm(instructions(last, 'CMD').at(-1)?.args ?? '')?.[0], 'node', `${file}: CMD is node, not npm`);
    const installsTini = stages.some((stage) => instructions(stage, 'RUN').some(({ args }) => /apt-get install .*\btini\b/.test(args)));
    assert.ok(installsTini, `${file}: tini is installed`);
  });

  test(`${file}: every command, entry file and copied path exists, and the final stage can run its entries`, () => {
    const stages = load(file);
    const names = new Set(stages.map((stage) => stage.name));
    for (const stage of stages) {
      for (const { from, sources } of copies(stage)) {
        if (from !== undefined) {
          assert.ok(names.has(from), `${file}: COPY --from=${from} names no stage`);
          continue;
        }
        for (const source of sources) {
          assert.ok(existsSync(join(REPO_ROOT, source)), `${file}: COPY ${source} does not exist`);
          assert.ok(!dockerignore.includes(source.split('/')[0]!), `${file}: COPY ${source} is in .dockerignore`);
        }
      }
      for (const { args } of instructions(stage, 'RUN')) {
        for (const [, script] of args.matchAll(/\bnpm run (?:-s )?([\w:.-]+)/g)) {
          const command = pkg.scripts[script!];
          assert.ok(command, `${file}: npm run ${script} is not a script of package.json`);
          const entry = entryFile(command.split(/\s+/));
          if (entry) assertRunnable(file, stages, stage, entry);
        }
      }
    }
    const last = finalStage(stages);
    const entries = ['CMD', 'HEALTHCHECK']
      .map((keyword) => entryFile(execForm(instructions(last, keyword).at(-1)!.args) ?? []))
      .filter((entry) => entry !== undefined);
    assert.ok(entries.length > 0);
    for (const entry of entries) assertRunnable(file, stages, last, entry);
  });
}

test('the worker image bakes in the model named by a build argument and points MODEL_DIR at it', () => {
  const stages = load('Dockerfile.worker');
  const model = stages.find((stage) => instructions(stage, 'RUN').some(({ args }) => args.includes('npm run model:fetch')));
  assert.ok(model, 'a stage runs npm run model:fetch');
  const fetch = instructions(model, 'RUN').find(({ args }) => args.includes('model:fetch'))!.args;
  assert.match(fetch, /--model "\$MODEL_ID"/);
  assert.match(fetch, /--out "\$MODEL_DIR"/);
  const args = instructions(model, 'ARG').map(({ args: arg }) => arg.split('=')[0]);
  assert.ok(args.includes('MODEL_ID') && args.includes('MODEL_DIR'));
  const last = finalStage(stages);
  assert.ok(copies(last).some(({ from, sources }) => from === model.name && sources.includes('/app/models')));
  assert.ok(instructions(last, 'ENV').some(({ args: env }) => env === 'MODEL_DIR=$MODEL_DIR'));
  const production = readFileSync(join(REPO_ROOT, '.env.production'), 'utf8').match(/^MODEL_DIR=(.*)$/m)?.[1];
  assert.ok(instructions(model, 'ARG').some(({ args: arg }) => arg === `MODEL_DIR=${production}`), 'default = .env.production');
});

test('the worker runs with the same heap flags and malloc arenas in the image, under npm start and start:worker', () => {
  const last = finalStage(load('Dockerfile.worker'));
  const command = execForm(instructions(last, 'CMD').at(-1)?.args ?? '') ?? [];
  assert.deepEqual(command.slice(1, 1 + WORKER_NODE_ARGS.length), [...WORKER_NODE_ARGS], `CMD ${command.join(' ')}`);
  assert.ok(instructions(last, 'ENV').some(({ args }) => args === 'MALLOC_ARENA_MAX=2'), 'ENV MALLOC_ARENA_MAX=2');
  for (const flag of WORKER_NODE_ARGS) assert.ok(pkg.scripts['start:worker']!.includes(flag), `start:worker has ${flag}`);
  assert.match(pkg.scripts['start:worker']!, /MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-2\}/);
});

test("the API image's HEALTHCHECK command succeeds on a 200 from /health and fails otherwise", async () => {
  const argv = execForm(instructions(finalStage(load('Dockerfile.api')), 'HEALTHCHECK')[0]!.args)!;
  let status = 200;
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    response.writeHead(status).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = String((server.address() as AddressInfo).port);
  const probe = async () => {
    const child = spawn(process.execPath, argv.slice(1), { env: { PORT: port }, stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    return code as number;
  };
  try {
    assert.equal(await probe(), 0);
    status = 503;
    assert.equal(await probe(), 1);
    assert.deepEqual(paths, ['/health', '/health']);
  } finally {
    server.close();
  }
  assert.equal(await probe(), 1, 'nothing listening');
});
