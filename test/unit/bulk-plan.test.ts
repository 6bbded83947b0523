import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planBulk } from '../../api/services/bulk/plan.ts';
import { ServiceError } from '../../shared/errors.ts';
import { INLINE_DOCUMENTS_MAX_CHARS } from '../../shared/job-documents.ts';
import { decodeEntries, scoresFromBytes } from '../../shared/bulk/ranking.ts';
import { encodeScores, decodeScores } from '../../shared/results.ts';
import { mergeScores } from '../../worker/bulk/merge.ts';

const limits = (chunkSize: number, maxDocumentChars = 64 * 2 ** 20) => ({ chunkSize, maxDocumentChars });

test('form 1 is cut into chunks of at most chunkSize consecutive pairs, named for the dashboard', () => {
  const plan = planBulk({ query: 'what is it', documents: ['a', { text: 'b' }, 'c', 'd', 'e'] }, limits(2));
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
    limits(2),
  );
  assert.deepEqual(plan.requests, [{ id: 'x', offset: 0, count: 3 }, { offset: 3, count: 2, top_k: 1 }]);
  assert.deepEqual(plan.chunks.map((chunk) => chunk.map((s) => [s.query, s.offset, s.documents])), [
    [['q1', 0, ['a', 'b']]],
    [['q1', 2, ['c']], ['q2', 3, ['d']]],
    [['q2', 4, ['e']]],
  ]);
});

test('long documents make smaller chunks: a chunk closes at 1 Mi characters; a longer document is a chunk alone', () => {
  const long = 'x'.repeat(INLINE_DOCUMENTS_MAX_CHARS / 4);
  const huge = 'y'.repeat(INLINE_DOCUMENTS_MAX_CHARS * 2);
  const plan = planBulk({ query: 'q', documents: [long, long, long, long, long, huge, 'z'] }, limits(1_000));
  assert.deepEqual(plan.chunks.map((chunk) => chunk.map((s) => [s.offset, s.documents.length])), [
    [[0, 4]],
    [[4, 1]],
    [[5, 1]],
    [[6, 1]],
  ]);
  // Across requests (form 2) too: the second request's long document starts a new chunk.
  const requests = planBulk({ requests: [{ query: 'a', documents: [long, long, long] }, { query: 'b', documents: [long, long] }] }, limits(1_000));
  assert.deepEqual(requests.chunks.map((chunk) => chunk.map((s) => [s.query, s.offset, s.documents.length])), [
    [['a', 0, 3], ['b', 3, 1]],
    [['b', 4, 1]],
  ]);
});

test('a document over maxDocumentChars is DOCUMENT_TOO_LONG (413) with its index, and its request in form 2', () => {
  const tooLong = (body: Parameters<typeof planBulk>[0]) => {
    try {
      planBulk(body, limits(10, 3));
    } catch (error) {
      assert.ok(error instanceof ServiceError);
      return { code: error.code, status: error.status, details: error.details };
    }
    return undefined;
  };
  assert.equal(tooLong({ query: 'q', documents: ['abc', { text: 'abc' }] }), undefined);
  assert.deepEqual(tooLong({ query: 'q', documents: ['abc', { text: 'abcd' }] }), {
    code: 'DOCUMENT_TOO_LONG',
    status: 413,
    details: { index: 1, limit: 3 },
  });
  assert.deepEqual(tooLong({ requests: [{ query: 'q', documents: ['a'] }, { query: 'q', documents: ['abcd'] }] })?.details, {
    index: 0,
    limit: 3,
    request: 1,
  });
});

test('the content hash tells bodies apart, and only them', () => {
  const hash = (body: Parameters<typeof planBulk>[0]) => planBulk(body, limits(10)).contentHash;
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
  assert.equal(planBulk(told, limits(10)).callbackUrl, told.callback_url);
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
