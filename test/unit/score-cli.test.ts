import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadEngine } from '../../worker/engine/index.ts';
import { ensureTestModel, REPO_ROOT } from '../support/models.ts';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], stdin: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'score.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

interface OutputLine {
  scores?: number[];
  error?: { line: number; code: string; message: string };
}

const REQUESTS = [
  { query: 'what causes tides', documents: ['the moon pulls the sea', '', 'tides '.repeat(100), 'unrelated text'] },
  { query: '', documents: ['empty query'] },
  { query: 'no documents', documents: [] },
  { query: 'Ünïcödé 潮汐 🌊', documents: ['café', '潮汐是海水的周期性运动'] },
];

describe('score CLI', () => {
  let modelDir: string;
  before(async () => {
    modelDir = await ensureTestModel('tiny');
  });

  it('round-trips JSONL: scores in order, bad lines reported, processing continues, exit 0', async () => {
    const lines = [
      JSON.stringify(REQUESTS[0]),
      '{"query": "broken json"',
      JSON.stringify(REQUESTS[1]),
      '',
      JSON.stringify({ query: 'q', documents: ['ok', 42] }),
      JSON.stringify(REQUESTS[2]),
      JSON.stringify(REQUESTS[3]),
    ];
    const run = await runCli(['--model-dir', modelDir], `${lines.join('\n')}\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /random weights; its scores are meaningless/);
    const out = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as OutputLine);
    assert.equal(out.length, 6, 'one output line per non-blank input line');
    assert.equal(out[1]?.error?.line, 2);
    assert.equal(out[1]?.error?.code, 'INVALID_JSON');
    assert.ok(out[1]?.error?.message);
    assert.equal(out[3]?.error?.line, 5);
    assert.equal(out[3]?.error?.code, 'VALIDATION_FAILED');
    assert.deepEqual(out[4], { scores: [] });

    const engine = await loadEngine({ modelDir });
    try {
      for (const [k, request] of [[0, REQUESTS[0]], [2, REQUESTS[1]], [5, REQUESTS[3]]] as const) {
        const expected = (await engine.score(request!.query, request!.documents)).scores;
        const got = out[k]?.scores ?? [];
        assert.equal(got.length, expected.length);
        got.forEach((s, i) => assert.ok(Math.abs(s - (expected[i] as number)) < 1e-6, `line ${k}, doc ${i}`));
      }
      const raw = await runCli(['--model-dir', modelDir, '--raw'], `${JSON.stringify(REQUESTS[0])}\n`);
      const expectedRaw = (await engine.score(REQUESTS[0]!.query, REQUESTS[0]!.documents, { raw: true })).scores;
      const gotRaw = (JSON.parse(raw.stdout) as { scores: number[] }).scores;
      gotRaw.forEach((s, i) => assert.ok(Math.abs(s - (expectedRaw[i] as number)) < 1e-6, `raw doc ${i}`));
    } finally {
      await engine.close();
    }
  });

  it('honours --max-length', async () => {
    const long = { query: 'tides', documents: ['tides and the moon '.repeat(30)] };
    const [short, full] = await Promise.all([
      runCli(['--model-dir', modelDir, '--max-length', '8', '--raw'], `${JSON.stringify(long)}\n`),
      runCli(['--model-dir', modelDir, '--raw'], `${JSON.stringify(long)}\n`),
    ]);
    assert.equal(short.code, 0, short.stderr);
    assert.notDeepEqual(JSON.parse(short.stdout), JSON.parse(full.stdout));
  });

  it('exits 1 with a message when the model cannot load, writing nothing to stdout', async () => {
    const missing = path.join(REPO_ROOT, '.cache', 'no-such-model');
    const run = await runCli(['--model-dir', missing], '{"query":"q","documents":["d"]}\n');
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /MODEL_NOT_FOUND/);
    assert.ok(run.stderr.includes(missing));
  });

  it('exits 2 on bad flags', async () => {
    for (const args of [[], ['--model-dir', modelDir, '--bogus'], ['--model-dir', modelDir, '--max-length', 'ten']]) {
      const run = await runCli(args, '');
      assert.equal(run.code, 2, `args ${args.join(' ')}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /Usage:/);
    }
  });
});
