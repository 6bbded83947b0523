/**
 * Long documents by overlapping windows: the window ranges as a pure function, and with a real engine (the tiny
 * generated model with the real vocabulary, a small window) a chunked document's score is the maximum of its
 * windows' scores, each window scored on its own.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { planWindows, windowRanges } from '../../worker/engine/chunking.ts';
import { loadEngine, type RerankEngine } from '../../worker/engine/index.ts';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../support/models.ts';

const MAX_LENGTH = 24;
const CHUNK = { overlapTokens: 4, maxChunks: 32 };
let engine: RerankEngine;
let tokenizer: PairTokenizer;

before(async () => {
  const modelDir = await ensureTestModel('tiny', { realVocab: true });
  engine = await loadEngine({ modelDir, maxLength: MAX_LENGTH, intraOpThreads: 1 });
  tokenizer = await PairTokenizer.load({ tokenizerPath: path.join(modelDir, 'tokenizer.json'), modelDir, maxLength: MAX_LENGTH });
});

after(() => engine?.close());

test('window ranges: greedy to the window, overlapping by whole words, capped at maxChunks', () => {
  const ones = new Array(10).fill(1);
  assert.deepEqual(windowRanges(ones, 4, { overlapTokens: 1, maxChunks: 10 }), [[0, 4], [3, 7], [6, 10]]);
  assert.deepEqual(windowRanges(ones, 4, { overlapTokens: 0, maxChunks: 2 }), [[0, 4], [4, 8]]);
  // A word longer than the window gets a window of its own; the overlap never stalls progress.
  assert.deepEqual(windowRanges([1, 9, 1], 4, { overlapTokens: 8, maxChunks: 10 }), [[0, 1], [1, 2], [2, 3]]);
  assert.deepEqual(windowRanges([2, 2], 4, { overlapTokens: 3, maxChunks: 10 }), [[0, 2]]);
});

const QUERY = 'who founded the fastapi web framework';
const LONG =
  'Python has many web frameworks. Flask is a microframework released in 2010 by Armin Ronacher. ' +
  'Django ships with an ORM, an admin and templates. Starlette is a lightweight ASGI toolkit. ' +
  'FastAPI, built on Starlette and Pydantic, was created by Sebastian Ramirez and first released in 2018. ' +
  'Sanic and Quart are asynchronous too, and Bottle fits in a single file.';

test('a chunked document scores the maximum of its windows, each scored on its own', async () => {
  const plan = await planWindows(tokenizer, QUERY, [LONG, 'short one'], CHUNK);
  assert.equal(plan.chunked, 1);
  assert.equal(plan.truncated, 0);
  const windows = plan.texts.filter((_, k) => plan.owners[k] === 0);
  assert.ok(windows.length >= 3, `${windows.length} windows`);
  assert.ok(LONG.endsWith(windows.at(-1)!), 'the last window reaches the end of the document');
  // Windows are spans of the document, in order; most overlap the previous one (by whole words up to
  // overlapTokens: a longer last word is not repeated).
  const spans: Array<[number, number]> = [];
  for (const window of windows) {
    const at = LONG.indexOf(window, spans.at(-1)?.[0] ?? 0);
    assert.ok(at >= 0 && at > (spans.at(-1)?.[0] ?? -1), 'windows are ordered spans of the document');
    spans.push([at, at + window.length]);
  }
  const overlapping = spans.slice(1).filter(([at], k) => at < spans[k]![1]).length;
  assert.ok(overlapping >= windows.length / 2, `${overlapping} of ${windows.length} windows overlap`);

  const chunked = await engine.score(QUERY, [LONG, 'short one'], { chunk: CHUNK });
  const oneByOne = await Promise.all(windows.map(async (window) => (await engine.score(QUERY, [window])).scores[0]!));
  assert.equal(chunked.scores[0], Math.max(...oneByOne));
  assert.equal(chunked.scores[1], (await engine.score(QUERY, ['short one'])).scores[0]);
  assert.deepEqual(chunked.longDocuments, { truncated: 0, chunked: 1 });

  const truncated = await engine.score(QUERY, [LONG, 'short one']);
  assert.deepEqual(truncated.longDocuments, { truncated: 1, chunked: 0 });
  assert.notEqual(truncated.scores[0], chunked.scores[0], 'truncation scores the first window only');
});

test('maxChunks bounds the windows; a document beyond them counts as truncated', async () => {
  const plan = await planWindows(tokenizer, QUERY, [LONG], { overlapTokens: 0, maxChunks: 2 });
  assert.equal(plan.texts.length, 2);
  assert.deepEqual([plan.chunked, plan.truncated], [1, 1]);
  const result = await engine.score(QUERY, [LONG], { chunk: { overlapTokens: 0, maxChunks: 1 } });
  assert.deepEqual(result.longDocuments, { truncated: 1, chunked: 0 });
});
