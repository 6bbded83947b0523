import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/lib/free-port.ts';
import { parseCliArgs } from '../../scripts/model-fetch/args.ts';
import { FetchError, type FetchErrorCode } from '../../scripts/model-fetch/errors.ts';
import { fetchModel, type FetchModelOptions } from '../../scripts/model-fetch/fetch-model.ts';
import { installDir } from '../../scripts/model-fetch/install.ts';
import { MANIFEST_NAME, type Manifest } from '../../scripts/model-fetch/model-dir.ts';
import { backoffMs, type RetryPolicy } from '../../scripts/model-fetch/retry.ts';
import { startFakeHub, type FakeHub } from '../support/fake-hub.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPO = 'cross-encoder/ms-marco-TinyBERT-L-2-v2';
const COMMIT = 'a'.repeat(8) + createHash('sha1').update('fake').digest('hex').slice(8);
const ONNX = 'onnx/model.onnx';
/** Retries without real waiting: tests must not sleep. */
const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function modelFiles(tag: string, withVocab = true): Record<string, Buffer> {
  const json = (value: object) => Buffer.from(JSON.stringify(value));
  return {
    'config.json': json({ model_type: 'bert', tag }),
    'tokenizer.json': json({ version: '1.0', model: { type: 'WordPiece' }, tag }),
    'tokenizer_config.json': json({ do_lower_case: true }),
    'special_tokens_map.json': json({ cls_token: '[CLS]', sep_token: '[SEP]' }),
    [ONNX]: randomBytes(24 * 1024),
    ...(withVocab ? { 'vocab.txt': Buffer.from('[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n') } : {}),
  };
}

interface Setup {
  hub: FakeHub;
  files: Record<string, Buffer>;
  outDir: string;
  options: FetchModelOptions;
}

async function setup(t: TestContext, files = modelFiles('v1')): Promise<Setup> {
  const hub = await startFakeHub({ repo: REPO, commit: COMMIT, files, lfs: [ONNX] });
  const root = await mkdtemp(join(tmpdir(), 'fetch-model-'));
  t.after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });
  const outDir = join(root, 'models', 'tiny');
  const options = { model: REPO, revision: 'main', outDir, endpoint: hub.endpoint, retry: FAST, timeoutMs: 2_000 };
  return { hub, files, outDir, options };
}

/** Everything beside the model directory: the model itself at most, never a staging or old directory. */
async function siblings(outDir: string): Promise<string[]> {
  return readdir(dirname(outDir)).catch(() => []);
}

async function assertModel(outDir: string, files: Record<string, Buffer>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) assert.deepEqual(await readFile(join(outDir, path)), bytes, path);
}

async function assertFails(promise: Promise<unknown>, code: FetchErrorCode, text: RegExp): Promise<FetchError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FetchError, String(error));
  assert.equal(error.code, code, error.message);
  assert.match(error.message, text);
  return error;
}

test('fetches every file, verifies it, pins the commit, writes the manifest and sends HF_TOKEN to the hub only', async (t) => {
  const { hub, files, outDir, options } = await setup(t);
  const result = await fetchModel({ ...options, token: 'hf_secret' });
  assert.equal(result.status, 'fetched');
  await assertModel(outDir, files);
  const manifest = JSON.parse(await readFile(join(outDir, MANIFEST_NAME), 'utf8')) as Manifest;
  assert.deepEqual(
    { ...manifest, fetched_at: undefined },
    {
      model: REPO,
      revision: 'main',
      commit: COMMIT,
      fetched_at: undefined,
      files: Object.entries(files).map(([path, bytes]) => ({
        path,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      })),
    },
  );
  assert.ok(Date.now() - Date.parse(manifest.fetched_at) < 60_000);
  const hubRequests = hub.requests.filter((r) => r.server === 'hub');
  assert.ok(hubRequests.every((r) => r.authorization === 'Bearer hf_secret'));
  assert.ok(hub.requests.filter((r) => r.server === 'cdn').every((r) => r.authorization === undefined));
  assert.deepEqual(new Set(hubRequests.slice(1).map((r) => r.revision)), new Set([COMMIT]));
  assert.deepEqual(await siblings(outDir), ['tiny']);
});

test('--file fetches an ONNX variant instead of onnx/model.onnx, into a directory named after it', async (t) => {
  const variant = 'onnx/model_quint8_avx2.onnx';
  const { [ONNX]: graph, ...rest } = modelFiles('v1');
  const files = { ...rest, [variant]: graph! };
  const hub = await startFakeHub({ repo: REPO, commit: COMMIT, files, lfs: [variant] });
  const root = await mkdtemp(join(tmpdir(), 'fetch-model-'));
  t.after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });
  const command = parseCliArgs(['--file', variant, '--endpoint', hub.endpoint], {});
  assert.ok(!command.help);
  assert.equal(command.options.outDir, 'models/ms-marco-TinyBERT-L-2-v2-model_quint8_avx2');
  const outDir = join(root, 'variant');
  const result = await fetchModel({ ...command.options, outDir, retry: FAST, timeoutMs: 2_000 });
  assert.equal(result.status, 'fetched');
  await assertModel(outDir, files);
  assert.equal(hub.count('GET', ONNX), 0, 'the fp32 graph is not downloaded');
  assert.throws(() => parseCliArgs(['--file', '../x.onnx'], {}), /--file/);
});

test('a 404 fails naming the file and leaves neither the model directory nor a staging directory', async (t) => {
  const { hub, outDir, options } = await setup(t);
  hub.fail('GET', 'tokenizer_config.json', { status: 404, headers: { 'x-error-code': 'EntryNotFound' } });
  await assertFails(fetchModel(options), 'E_HUB_NOT_FOUND', /^tokenizer_config\.json: HTTP 404 EntryNotFound \(http:.*\/resolve\//);
  assert.equal(hub.count('GET', 'tokenizer_config.json'), 1, 'a 404 is not retried');
  assert.deepEqual(await siblings(outDir), []);
});

test('a 401 is not retried and points at HF_TOKEN', async (t) => {
  const { hub, outDir, options } = await setup(t);
  await assertFails(fetchModel({ ...options, model: 'someone/private-model' }), 'E_HUB_AUTH', /config\.json: HTTP 401.*HF_TOKEN/);
  assert.equal(hub.requests.length, 1);
  assert.deepEqual(await siblings(outDir), []);
});

test('a truncated body is retried, and fails without leftovers when it keeps happening', async (t) => {
  const { hub, files, outDir, options } = await setup(t);
  hub.fail('GET', ONNX, 'truncate', 2);
  await fetchModel(options);
  assert.equal(hub.count('GET', ONNX), 3);
  await assertModel(outDir, files);

  await rm(outDir, { recursive: true });
  hub.fail('GET', ONNX, 'truncate');
  await assertFails(fetchModel(options), 'E_TRUNCATED', /^onnx\/model\.onnx: connection lost after \d+ of 24576 bytes/);
  assert.equal(hub.count('GET', ONNX), 3 + FAST.attempts);
  assert.deepEqual(await siblings(outDir), []);
});

test('transient 503 and 429 answers are retried; a missing optional vocab.txt is skipped', async (t) => {
  const { hub, files, outDir, options } = await setup(t, modelFiles('v1', false));
  hub.fail('HEAD', 'config.json', { status: 503 }, 1);
  hub.fail('GET', 'tokenizer.json', { status: 503, headers: { 'retry-after': '0' } }, 2);
  hub.fail('GET', ONNX, { status: 429 }, 1);
  const result = await fetchModel(options);
  assert.equal(result.status, 'fetched');
  assert.deepEqual([hub.count('HEAD', 'config.json'), hub.count('GET', 'tokenizer.json'), hub.count('GET', ONNX)], [2, 3, 2]);
  assert.deepEqual(result.manifest?.files.map((f) => f.path), Object.keys(files));
  await assertModel(outDir, files);
});

test('a refused connection fails at once with the cause, despite long retry delays', async (t) => {
  const { outDir, options } = await setup(t);
  const port = await freePort();
  const started = Date.now();
  const slowRetry = { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 };
  const endpoint = `http://127.0.0.1:${port}`;
  await assertFails(fetchModel({ ...options, endpoint, retry: slowRetry }), 'E_UNREACHABLE', /config\.json: network error: .*ECONNREFUSED.*HF_ENDPOINT/);
  assert.ok(Date.now() - started < 2_000);
  assert.deepEqual(await siblings(outDir), []);
});

test('a sha256 mismatch fails without retrying and without leftovers', async (t) => {
  const { hub, outDir, options } = await setup(t);
  hub.fail('GET', ONNX, 'corrupt');
  await assertFails(fetchModel(options), 'E_SHA256_MISMATCH', /^onnx\/model\.onnx: sha256 [0-9a-f]{64}, the hub announced [0-9a-f]{64}/);
  assert.equal(hub.count('GET', ONNX), 1);
  assert.deepEqual(await siblings(outDir), []);
});

test('a server that stops sending is aborted by the per-request timeout', async (t) => {
  const { hub, outDir, options } = await setup(t);
  hub.fail('GET', ONNX, 'stall');
  const retry = { ...FAST, attempts: 2 };
  await assertFails(fetchModel({ ...options, retry, timeoutMs: 150 }), 'E_TIMEOUT', /no data for 150 ms/);
  assert.equal(hub.count('GET', ONNX), 2);
  assert.deepEqual(await siblings(outDir), []);
});

test('an existing model is kept: reused without --force, intact after a failed --force, replaced by a good one', async (t) => {
  const { hub, files, outDir, options } = await setup(t);
  await fetchModel(options);
  const before = hub.requests.length;
  assert.equal((await fetchModel(options)).status, 'present');
  assert.equal(hub.requests.length, before, 'no request when the model is present');
  await assertFails(fetchModel({ ...options, model: 'other/model' }), 'E_OUT_DIR', /holds cross-encoder/);

  const old = { ...files };
  Object.assign(files, modelFiles('v2'));
  hub.fail('GET', ONNX, { status: 404 });
  await assertFails(fetchModel({ ...options, force: true }), 'E_HUB_NOT_FOUND', /onnx\/model\.onnx/);
  await assertModel(outDir, old);
  assert.deepEqual(await siblings(outDir), ['tiny']);

  hub.fail('GET', ONNX, { status: 404 }, 0);
  assert.equal((await fetchModel({ ...options, force: true })).status, 'fetched');
  await assertModel(outDir, files);
  assert.deepEqual(await siblings(outDir), ['tiny']);
});

test('installing puts the previous model back when the new one cannot be moved into place', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'fetch-model-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'tiny');
  await mkdir(dir);
  await writeFile(join(dir, 'config.json'), 'old');
  await assert.rejects(installDir(join(root, 'tiny.partial-gone'), dir, true), { code: 'ENOENT' });
  assert.equal(await readFile(join(dir, 'config.json'), 'utf8'), 'old');
  assert.deepEqual(await readdir(root), ['tiny']);
});

test('backoff grows exponentially, is capped, and keeps at least half of its step', () => {
  const policy = { attempts: 9, baseDelayMs: 100, maxDelayMs: 1_000 };
  assert.deepEqual([1, 2, 3, 4, 8].map((retry) => backoffMs(policy, retry, () => 1)), [100, 200, 400, 800, 1_000]);
  assert.deepEqual([1, 2, 8].map((retry) => backoffMs(policy, retry, () => 0)), [50, 100, 500]);
});

test('CLI: exit 0 when fetched or present, 1 on failure with a one-line error, 2 on bad flags', async (t) => {
  const { hub, outDir } = await setup(t);
  const env = { HF_ENDPOINT: hub.endpoint, HF_TOKEN: '' };

  const usage = await runCli(['--bogus'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Unknown option '--bogus'[\s\S]*usage: npm run model:fetch/);

  const fetched = await runCli(['--out', outDir], env);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, /^fetched cross-encoder\/ms-marco-TinyBERT-L-2-v2 @ aaaaaaaa.* \(6 files, /);
  assert.match(fetched.stderr, /^onnx\/model\.onnx {2}24\.0 KB/m, 'one progress line per file off a TTY');

  const present = await runCli(['--out', outDir], env);
  assert.equal(present.code, 0, present.stderr);
  assert.match(present.stdout, /already holds/);

  const failed = await runCli(['--out', `${outDir}-2`, '--model', 'nobody/nothing'], env);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^fetch-model: E_HUB_AUTH: config\.json: HTTP 401 RepositoryNotFound \(http:.*\).*HF_TOKEN.*\n$/);
  assert.deepEqual(await siblings(outDir), ['tiny']);
});

async function runCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/fetch-model.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}
