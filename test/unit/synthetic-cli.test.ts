import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/models.ts';

const CLI = path.join(REPO_ROOT, 'scripts', 'make-synthetic-model.ts');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCli(...args: string[]): Promise<CliRun> {
  try {
    const argv = ['--import', 'tsx', CLI, ...args];
    const { stdout, stderr } = await promisify(execFile)(process.execPath, argv, { cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('make-synthetic-model CLI', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'synthetic-cli-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('writes a model, lists its files and warns that scores are meaningless', async () => {
    const out = path.join(scratch, 'tiny');
    const run = await runCli('--arch', 'tiny', '--out', out, '--seed', '7');
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(path.join(out, 'onnx', 'model.onnx')));
    assert.match(run.stdout, /seed 7/);
    assert.match(run.stdout, /onnx\/model\.onnx/);
    assert.match(run.stderr, /random weights: scores are meaningless/);
  });

  it('exits 2 with the usage for bad flags', async () => {
    // One flag parseArgs rejects, one value this CLI rejects; each spawn costs a tsx start-up.
    const cases = [['--arch', 'tiny', '--out', 'x', '--bogus'], ['--arch', 'huge', '--out', 'x']];
    for (const run of await Promise.all(cases.map((args) => runCli(...args)))) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /usage: npm run model:synthetic/);
    }
  });

  it('exits 1 when the vocab file cannot be read', async () => {
    const missing = path.join(scratch, 'missing.txt');
    const run = await runCli('--arch', 'tiny', '--out', path.join(scratch, 'novocab'), '--vocab', missing);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /missing\.txt/);
  });
});
