import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planBulk } from '../../api/services/bulk/plan.ts';
import { decodeEntries, scoresFromBytes } from '../../shared/bulk/ranking.ts';
import { encodeScores, decodeScores } from '../../shared/results.ts';
import { mergeScores } from '../../worker/bulk/merge.ts';

test('form 1 is cut into chunks of at most chunkSize consecutive pairs, named for the dashboard', () => {
  const plan = planBulk({ query: 'what is it', documents: ['a', { text: 'b' }, 'c', 'd', 'e'] }, 2);
  assert.equal(plan.form, 'query');
  assert.equal(plan.total, 5);
  assert.deepEqual(plan.chunks.map((chunk) => chunk.map((s) => [s.offset, s.documents])), [
    [[0, ['a', 'b']]],
    [[2, ['c', 'd']]],
    [[4, ['e']]],
  ]);
  assert.equal(plan.name, '"what is it" × 5');
});

test('form 2 packs requests in order and splits one across chunks where it does not fit', () => {
  const plan = planBulk(
    { requests: [{ id: 'x', query: 'q1', documents: ['a', 'b', 'c'] }, { query: 'q2', documents: ['d', 'e'], top_k: 1 }] },
    2,
  );
  assert.deepEqual(plan.requests, [{ id: 'x', offset: 0, count: 3 }, { offset: 3, count: 2, top_k: 1 }]);
  assert.deepEqual(plan.chunks.map((chunk) => chunk.map((s) => [s.query, s.offset, s.documents])), [
    [['q1', 0, ['a', 'b']]],
    [['q1', 2, ['c']], ['q2', 3, ['d']]],
    [['q2', 4, ['e']]],
  ]);
});

test('the content hash tells bodies apart, and only them', () => {
  const hash = (body: Parameters<typeof planBulk>[0]) => planBulk(body, 10).contentHash;
  const body = { query: 'q', documents: ['a', 'b'] };
  assert.equal(hash(body), hash({ query: 'q', documents: ['a', { text: 'b' }] }));
  assert.notEqual(hash(body), hash({ ...body, top_k: 1 }));
  assert.notEqual(hash(body), hash({ ...body, raw_scores: true }));
  assert.notEqual(hash(body), hash({ query: 'q', documents: ['ab'] }));
  assert.notEqual(hash(body), hash({ requests: [body] }));
  const told = { ...body, callback_url: 'http://127.0.0.1/a' };
  assert.notEqual(hash(body), hash(told));
  assert.notEqual(hash(told), hash({ ...body, callback_url: 'http://127.0.0.1/b' }));
  assert.equal(hash(body), hash({ ...body, callback_url: undefined }));
  assert.equal(planBulk(told, 10).callbackUrl, told.callback_url);
});

test('merge: global order with ties by index, top_k; form 2 ranks each request on its own', () => {
  const scores = Float64Array.from([0.5, 0.9, 0.5, 0.1, 0.7, 0.8]);
  const whole = mergeScores(scores, 4);
  assert.deepEqual(decodeEntries(whole.ranked), [
    { index: 1, score: 0.9 },
    { index: 5, score: 0.8 },
    { index: 4, score: 0.7 },
    { index: 0, score: 0.5 },
  ]);
  const perRequest = mergeScores(scores, undefined, [{ offset: 0, count: 3 }, { offset: 3, count: 3, top_k: 1 }]);
  assert.deepEqual(perRequest.requests?.map((r) => [r.ranked, r.kept]), [[0, 3], [3, 1]]);
  assert.deepEqual(decodeEntries(perRequest.ranked).map((e) => e.index), [1, 0, 2, 2]);
});

test('scores survive their byte encodings exactly', () => {
  const scores = [0.123456789012345, -3.5, 1e-300, 0];
  assert.deepEqual(decodeScores(encodeScores(scores)), scores);
  // Redis hands back buffers at any offset; the Float64 view is copied, and missing pairs are NaN.
  const unaligned = Buffer.concat([Buffer.alloc(3), encodeScores(scores)]).subarray(3);
  assert.deepEqual(Array.from(scoresFromBytes(unaligned, 5)), [...scores, Number.NaN]);
});
