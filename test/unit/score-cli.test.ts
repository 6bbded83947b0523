import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadEngine } from '../../worker/engine/index.ts';
import { ensureTestModel, REPO_ROOT } from '../support/models.ts';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface CliContext {
  /** Working directory (where `.env` is read); default the repository. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Without MODEL_DIR / MAX_SEQ_LENGTH inherited from whoever runs the tests. */
const { MODEL_DIR: _modelDir, MAX_SEQ_LENGTH: _maxLength, ...cleanEnv } = process.env;
// Resolved here, so that the CLI also starts in a directory without node_modules.
const TSX = import.meta.resolve('tsx');

function runCli(args: string[], stdin: string, context: CliContext = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(REPO_ROOT, 'scripts', 'score.ts'), ...args], {
      cwd: context.cwd ?? REPO_ROOT,
      env: context.env ?? cleanEnv,
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

  it('round-trips JSONL: scores in order, bad lines reported, processing continues, exit 3 after every line', async () => {
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
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /2 of the input lines failed/);
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
    assert.match(run.stderr, /npm run demo.*--model-dir models\/demo-tinybert-random/, 'names the demo model');
  });

  it('exits 2 on bad flags', async () => {
    for (const args of [['--model-dir', modelDir, '--bogus'], ['--model-dir', modelDir, '--max-length', 'ten']]) {
      const run = await runCli(args, '');
      assert.equal(run.code, 2, `args ${args.join(' ')}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /Usage:/);
    }
  });

  it('takes documents in both of the API\'s forms, strings and {"text"}, with the same scores; exit 0', async () => {
    const query = 'what causes tides';
    const texts = ['the moon pulls the sea', 'unrelated text'];
    const input = [
      JSON.stringify({ query, documents: texts }),
      JSON.stringify({ query, documents: texts.map((text) => ({ text })) }),
      JSON.stringify({ query, documents: [texts[0], { text: texts[1] }] }),
    ];
    const run = await runCli(['--model-dir', modelDir], `${input.join('\n')}\n`);
    assert.equal(run.code, 0, run.stderr);
    const [plain, objects, mixed] = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as OutputLine);
    assert.equal(plain?.scores?.length, 2);
    assert.deepEqual(objects, plain);
    assert.deepEqual(mixed, plain);
  });

  it('refuses documents the API refuses, with the failing document\'s path', async () => {
    const bad = [{ text: 7 }, {}, { text: 'a', id: 1 }];
    const input = bad.map((document) => JSON.stringify({ query: 'q', documents: ['ok', document] }));
    const run = await runCli(['--model-dir', modelDir], `${input.join('\n')}\n`);
    assert.equal(run.code, 3);
    const out = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as OutputLine);
    assert.equal(out.length, 3);
    for (const line of out) {
      assert.equal(line.error?.code, 'VALIDATION_FAILED');
      assert.match(String(line.error?.message), /^\/documents\/1: each document must be a string or an object/);
    }
  });

  it('without --model-dir uses MODEL_DIR from the environment, then from .env', async () => {
    const input = `${JSON.stringify({ query: 'q', documents: ['d'] })}\n`;
    const expected = await runCli(['--model-dir', modelDir], input);
    const fromEnv = await runCli([], input, { env: { ...cleanEnv, MODEL_DIR: modelDir } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.stdout, expected.stdout);

    const dir = await mkdtemp(path.join(tmpdir(), 'score-cli-'));
    try {
      await writeFile(path.join(dir, '.env'), `MODEL_DIR=${modelDir}\n`);
      const fromDotEnv = await runCli([], input, { cwd: dir });
      assert.equal(fromDotEnv.code, 0, fromDotEnv.stderr);
      assert.equal(fromDotEnv.stdout, expected.stdout);
      await writeFile(path.join(dir, '.env'), 'MODEL_DIR=no-such-model\n');
      const missing = await runCli([], input, { cwd: dir });
      assert.equal(missing.code, 1);
      assert.ok(missing.stderr.includes(path.join(dir, 'no-such-model')), missing.stderr);
      await writeFile(path.join(dir, '.env'), 'MAX_SEQ_LENGTH=lots\n');
      const badSetting = await runCli([], input, { cwd: dir });
      assert.equal(badSetting.code, 2);
      assert.match(badSetting.stderr, /MAX_SEQ_LENGTH="lots"/);
      // Settings of the API or the queue are not the CLI's business: a bad one does not stop offline scoring.
      await writeFile(path.join(dir, '.env'), `MODEL_DIR=${modelDir}\nPORT=abc\nDASHBOARD_USER=admin\n`);
      const unrelated = await runCli([], input, { cwd: dir });
      assert.equal(unrelated.code, 0, unrelated.stderr);
      assert.equal(unrelated.stdout, expected.stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
