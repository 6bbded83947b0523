/**
 * The compatibility routes through real clients (and the README's snippets for them): the cohere-ai SDK
 * (CohereClient -> /v1/rerank, CohereClientV2 -> /v2/rerank, with and without a token), LangChain's CohereRerank,
 * and TEI's wire format over fetch (no maintained JS TEI client has a rerank call), against real API and worker
 * processes. Scores must equal the native route's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { Document } from '@langchain/core/documents';
import { CohereRerank } from '@langchain/cohere';
import { CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import { planWindows } from '../../worker/engine/chunking.ts';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../support/models.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { REPO_ROOT, spawnService, type ServiceProcess } from '../support/processes.ts';

const run = promisify(execFile);

const PREFIX = `test-compat-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const MAX_DOCUMENTS = 20;
let api: ServiceProcess;
let worker: ServiceProcess;
let base: string;
let modelName: string;
let modelDir: string;

const QUERY = 'who founded fastapi';
const DOCUMENTS = [
  'FastAPI was created by Sebastian Ramirez.',
  'Flask is a Python microframework released in 2010.',
  'Django is a batteries-included web framework.',
  'Starlette is the ASGI toolkit under FastAPI.',
];

/** Authorization headers the SDK sent, seen through its own fetch hook. */
const sentAuthorization: (string | null)[] = [];
const recordingFetch: typeof fetch = (input, init) => {
  sentAuthorization.push(new Headers(init?.headers).get('authorization'));
  return fetch(input, init);
};

async function post(path: string, body: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The native route's scores by document index. */
async function nativeScores(raw = false): Promise<number[]> {
  const reply = await post('/rerank', { query: QUERY, documents: DOCUMENTS, raw_scores: raw });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const scores: number[] = [];
  for (const { index, score } of reply.body.rankings) scores[index] = score;
  return scores;
}

function assertSortedBy<T>(items: T[], score: (item: T) => number): void {
  for (let i = 1; i < items.length; i += 1) assert.ok(score(items[i - 1]!) >= score(items[i]!), 'sorted by score');
}

before(async () => {
  modelDir = await ensureTestModel('tiny');
  modelName = modelDir.split('/').at(-1)!;
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: modelDir, MAX_DOCUMENTS: String(MAX_DOCUMENTS) };
  // The names Cohere clients (and the README's snippets, written for the default model) send, for the test model.
  const aliases = ['rerank-english-v3.0', 'rerank-v3.5', 'm', 'cross-encoder/ms-marco-TinyBERT-L-2-v2'];
  const MODEL_ALIASES = aliases.map((alias) => `${alias}=${modelName}`).join(',');
  api = spawnService({ entry: 'api/main.ts', env: { ...env, PORT: '0', MODEL_ALIASES } });
  worker = spawnService({ entry: 'worker/main.ts', env });
  const [listening] = await Promise.all([
    api.waitForLine((line) => line.msg === 'api listening'),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  base = `http://127.0.0.1:${String(listening.port)}`;
});

after(async () => {
  await Promise.all([worker?.stop(), api?.stop()]);
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
});

test('CohereClient (v1) with a token: the native scores, sorted, top_n, documents echoed, Jina fields', async () => {
  const client = new CohereClient({ token: 'test-token', environment: base, fetch: recordingFetch });
  const native = await nativeScores();
  const reply = await client.rerank({ model: 'rerank-english-v3.0', query: QUERY, documents: DOCUMENTS, returnDocuments: true });
  assert.equal(reply.results.length, DOCUMENTS.length);
  assertSortedBy(reply.results, (result) => result.relevanceScore);
  for (const result of reply.results) {
    assert.equal(result.relevanceScore, native[result.index]);
    assert.deepEqual(result.document, { text: DOCUMENTS[result.index] });
  }
  assert.equal(reply.meta?.apiVersion?.version, '1');
  assert.equal(reply.meta?.billedUnits?.searchUnits, 1);
  assert.equal(sentAuthorization.at(-1), 'Bearer test-token');
  // Fields the SDK does not model but Jina clients read, passed through by the SDK as they came.
  const extra = reply as unknown as { model: string; usage: { totalTokens?: number; total_tokens?: number } };
  assert.equal(extra.model, modelName);
  assert.ok((extra.usage.totalTokens ?? extra.usage.total_tokens ?? 0) > 0);

  const top = await client.rerank({ query: QUERY, documents: DOCUMENTS.map((text) => ({ text })), topN: 2 });
  assert.deepEqual(top.results.map((result) => result.index), reply.results.slice(0, 2).map((result) => result.index));
  assert.equal(top.results[0]!.document, undefined);
});

test('CohereClientV2 without a token: no Authorization header, the native scores, version 2', async () => {
  const client = new CohereClientV2({ token: '', environment: base, fetch: recordingFetch });
  const native = await nativeScores();
  const reply = await client.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCUMENTS, topN: 3 });
  assert.equal(sentAuthorization.at(-1), null);
  assert.equal(reply.results.length, 3);
  assertSortedBy(reply.results, (result) => result.relevanceScore);
  for (const result of reply.results) assert.equal(result.relevanceScore, native[result.index]);
  assert.equal(reply.meta?.apiVersion?.version, '2');
});

test('rank_fields rank structured documents by "field: value" lines, as the native route scores that text', async () => {
  const documents = [{ title: 'FastAPI', body: DOCUMENTS[0]! }, { title: 'Flask', body: DOCUMENTS[1]! }];
  const reply = await post('/v1/rerank', { query: QUERY, documents, rank_fields: ['title', 'body'], return_documents: true });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const native = await post('/rerank', { query: QUERY, documents: documents.map((d) => `title: ${d.title}\nbody: ${d.body}`) });
  for (const result of reply.body.results) {
    assert.equal(result.relevance_score, native.body.rankings.find((r: { index: number }) => r.index === result.index).score);
    assert.deepEqual(result.document, documents[result.index]);
  }
  assert.deepEqual(reply.body.meta, { api_version: { version: '1' }, billed_units: { search_units: 1 } });
});

test('the SDK sees catalogue errors as CohereError with the native status and a {message} body', async () => {
  const client = new CohereClient({ token: 'test-token', environment: base, maxRetries: 0 });
  await assert.rejects(client.rerank({ query: '   ', documents: DOCUMENTS }), (error: unknown) => {
    assert.ok(error instanceof CohereError);
    assert.equal(error.statusCode, 400);
    assert.deepEqual(error.body, { message: 'query must be a non-empty string.' });
    return true;
  });
  const tooMany = await post('/v2/rerank', { model: 'm', query: QUERY, documents: Array(MAX_DOCUMENTS + 1).fill('d') });
  assert.equal(tooMany.status, 413);
  assert.deepEqual(tooMany.body, { message: `At most ${MAX_DOCUMENTS} documents per request.` });
  const noText = await post('/v1/rerank', { query: QUERY, documents: [{ title: 'no text' }] });
  assert.equal(noText.status, 400);
  assert.match(noText.body.message, /documents\[0\] has no "text"/);
});

test('LangChain CohereRerank over a CohereClient: documents reordered with the native scores', async () => {
  const native = await nativeScores();
  const reranker = new CohereRerank({
    client: new CohereClient({ token: 'test-token', environment: base }) as never,
    model: 'rerank-english-v3.0',
    topN: 2,
  });
  const docs = DOCUMENTS.map((text, index) => new Document({ pageContent: text, metadata: { index } }));
  const compressed = await reranker.compressDocuments(docs, QUERY);
  assert.equal(compressed.length, 2);
  for (const doc of compressed) assert.equal(doc.metadata.relevanceScore, native[doc.metadata.index as number]);
  const ranked = await reranker.rerank(DOCUMENTS, QUERY, { topN: 4 });
  assert.deepEqual(ranked.map((r) => r.relevanceScore), [...native].sort((a, b) => b - a));
});

test('TEI /tei/rerank: the native scores (raw too), return_text, TEI error bodies, and /tei/info', async () => {
  const [native, nativeRaw] = [await nativeScores(), await nativeScores(true)];
  const ranks = await post('/tei/rerank', { query: QUERY, texts: DOCUMENTS, return_text: true, truncate: true });
  assert.equal(ranks.status, 200, JSON.stringify(ranks.body));
  assertSortedBy(ranks.body, (rank: { score: number }) => rank.score);
  for (const rank of ranks.body) {
    assert.equal(rank.score, native[rank.index]);
    assert.equal(rank.text, DOCUMENTS[rank.index]);
  }
  const raw = await post('/tei/rerank', { query: QUERY, texts: DOCUMENTS, raw_scores: true });
  for (const rank of raw.body) {
    assert.equal(rank.score, nativeRaw[rank.index]);
    assert.equal(rank.text, undefined);
  }

  const tooMany = await post('/tei/rerank', { query: QUERY, texts: Array(MAX_DOCUMENTS + 1).fill('d') });
  assert.equal(tooMany.status, 413);
  assert.deepEqual(tooMany.body, { error: `At most ${MAX_DOCUMENTS} documents per request.`, error_type: 'validation' });
  const left = await post('/tei/rerank', { query: QUERY, texts: DOCUMENTS, truncation_direction: 'Left' });
  assert.equal(left.status, 400);
  assert.equal(left.body.error_type, 'validation');

  const info = await (await fetch(`${base}/tei/info`)).json();
  assert.equal(info.model_id, modelName);
  assert.equal(info.max_client_batch_size, MAX_DOCUMENTS);
  assert.equal(info.auto_truncate, true);
  assert.deepEqual(info.model_type, { reranker: { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } } });
});

test('without a worker the compatibility routes never answer 202: 504 with Retry-After after MAX_SYNC_WAIT_MS', async (t) => {
  const prefix = `${PREFIX}-idle`;
  const idle = spawnService({
    entry: 'api/main.ts',
    env: { REDIS_URL, QUEUE_PREFIX: prefix, MODEL_DIR: 'models/none', PORT: '0', SYNC_TIMEOUT_MS: '300', MAX_SYNC_WAIT_MS: '300' },
  });
  t.after(async () => {
    await idle.stop();
    await deleteKeysWithPrefix(REDIS_URL, prefix);
  });
  const listening = await idle.waitForLine((line) => line.msg === 'api listening');
  const idleBase = `http://127.0.0.1:${String(listening.port)}`;
  const cases = [
    { path: '/v1/rerank', body: { query: QUERY, documents: DOCUMENTS }, expected: { message: /did not finish/ } },
    { path: '/v2/rerank', body: { model: 'none', query: QUERY, documents: DOCUMENTS }, expected: { message: /did not finish/ } },
    { path: '/tei/rerank', body: { query: QUERY, texts: DOCUMENTS }, expected: { error: /did not finish/ } },
  ];
  for (const { path, body, expected } of cases) {
    const response = await fetch(`${idleBase}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 504, path);
    assert.equal(response.headers.get('retry-after'), '1');
    const reply = await response.json();
    for (const [field, pattern] of Object.entries(expected)) assert.match(reply[field], pattern, path);
    if (path.startsWith('/tei')) assert.equal(reply.error_type, 'unhealthy');
  }
});

test('the README\'s "Use it from ..." snippets run as written against the service', async () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it from'), readme.indexOf('\n## ', readme.indexOf('## Use it from') + 1));
  const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  assert.equal(snippets.length, 3, 'Cohere SDK, LangChain and TEI snippets');
  // Under the repo, so that the snippets' imports resolve to this project's node_modules.
  const dir = join(REPO_ROOT, '.cache', `readme-snippets-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir, { recursive: true });
  try {
    for (const [index, code] of snippets.entries()) {
      const file = join(dir, `snippet-${index}.ts`);
      writeFileSync(file, code);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', RERANK_URL: base },
        timeout: 60_000,
      });
      const printed = stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown[]);
      assert.ok(printed.length > 0 && printed.every((list) => Array.isArray(list) && list.length > 0), stdout);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('long documents: chunked on the native route and by Cohere max_chunks_per_doc, scoring the best window', async () => {
  const long = Array.from({ length: 12 }, (_, k) => `${DOCUMENTS[k % DOCUMENTS.length]} (${k})`).join(' ');
  // The windows the worker makes, at the service's defaults (MAX_SEQ_LENGTH 64, CHUNK_OVERLAP_TOKENS 16).
  const tokenizer = await PairTokenizer.load({ tokenizerPath: join(modelDir, 'tokenizer.json'), modelDir, maxLength: 64 });
  const { texts: windows } = await planWindows(tokenizer, QUERY, [long], { overlapTokens: 16, maxChunks: 16 });
  assert.ok(windows.length >= 2, `${windows.length} windows`);
  const perWindow = await post('/rerank', { query: QUERY, documents: windows });
  const best = Math.max(...perWindow.body.rankings.map((ranking: { score: number }) => ranking.score));

  const chunked = await post('/rerank', { query: QUERY, documents: [long, DOCUMENTS[0]], long_documents: 'chunk' });
  assert.equal(chunked.status, 200, JSON.stringify(chunked.body));
  assert.deepEqual(chunked.body.long_documents, { truncated: 0, chunked: 1 });
  assert.equal(chunked.body.rankings.find((ranking: { index: number }) => ranking.index === 0).score, best);
  const truncated = await post('/rerank', { query: QUERY, documents: [long, DOCUMENTS[0]] });
  assert.deepEqual(truncated.body.long_documents, { truncated: 1, chunked: 0 });

  const cohere = new CohereClient({ token: '', environment: base });
  const reply = await cohere.rerank({ query: QUERY, documents: [long], maxChunksPerDoc: 16 });
  assert.equal(reply.results[0]!.relevanceScore, best);
  assert.match(reply.meta?.warnings?.join(' ') ?? '', /1 document\(s\) .* chunks/);
});

test('usage.total_tokens is what the worker tokenized: the real tokens of every pair', async () => {
  const tokenizer = await PairTokenizer.load({ tokenizerPath: join(modelDir, 'tokenizer.json'), modelDir, maxLength: 64 });
  const pairs = await tokenizer.encodePairs(QUERY, DOCUMENTS);
  const reply = await post('/v1/rerank', { query: QUERY, documents: DOCUMENTS });
  assert.equal(reply.body.usage.total_tokens, pairs.reduce((sum, pair) => sum + pair.ids.length, 0));
});
