/** The API's pure pieces: rankings, Prefer parsing, job ids, validation-error mapping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromValidation, toServiceError } from '../../api/errors.ts';
import { listenProblem } from '../../api/listen.ts';
import { parsePrefer, preferenceApplied } from '../../api/prefer.ts';
import { jobIdFor } from '../../api/services/job-id.ts';
import { rankScores } from '../../api/services/rankings.ts';
import { ServiceError } from '../../shared/errors.ts';
import type { RerankJobData } from '../../shared/queue.ts';

test('rankings: score descending, ties by index, top_k cuts and says so', () => {
  assert.deepEqual(rankScores([0.1, 0.9, 0.5, 0.9]), {
    rankings: [
      { index: 1, score: 0.9 },
      { index: 3, score: 0.9 },
      { index: 2, score: 0.5 },
      { index: 0, score: 0.1 },
    ],
    top_k_applied: false,
  });
  assert.deepEqual(rankScores([0.1, 0.9, 0.5], 1), { rankings: [{ index: 1, score: 0.9 }], top_k_applied: true });
  assert.equal(rankScores([0.1, 0.9], 2).top_k_applied, false, 'top_k equal to the count cuts nothing');
  assert.equal(rankScores([0.1, 0.9], 50).rankings.length, 2, 'top_k above the count is fine');
  assert.deepEqual(rankScores([-3.5, 2.25], 1).rankings, [{ index: 1, score: 2.25 }], 'raw logits rank the same way');
});

const limits = { defaultWaitMs: 10_000, maxWaitMs: 60_000 };

test('Prefer: default wait, wait=N capped, respond-async, and what gets echoed', () => {
  assert.deepEqual(parsePrefer(undefined, limits), { waitMs: 10_000, respondAsync: false });
  assert.deepEqual(parsePrefer('wait=3', limits), { waitMs: 3_000, respondAsync: false, waitSeconds: 3 });
  assert.deepEqual(parsePrefer('wait=600', limits), { waitMs: 60_000, respondAsync: false, waitSeconds: 60 });
  assert.deepEqual(parsePrefer('respond-async', limits), { waitMs: 0, respondAsync: true });
  assert.deepEqual(parsePrefer(['Respond-Async', 'WAIT="5"'], limits), { waitMs: 5_000, respondAsync: true, waitSeconds: 5 });
  assert.deepEqual(parsePrefer('handling=lenient, return=minimal', limits), { waitMs: 10_000, respondAsync: false });

  assert.equal(preferenceApplied(parsePrefer('respond-async', limits), true), 'respond-async');
  assert.equal(preferenceApplied(parsePrefer('respond-async, wait=5', limits), false), 'wait=5');
  assert.equal(preferenceApplied(parsePrefer('respond-async, wait=5', limits), true), 'respond-async, wait=5');
  assert.equal(preferenceApplied(parsePrefer(undefined, limits), false), undefined);
  for (const bad of ['wait=abc', 'wait=-1', 'wait=1.5', 'wait=']) {
    const invalidPrefer = (error: unknown) => error instanceof ServiceError && error.code === 'INVALID_PREFER';
    assert.throws(() => parsePrefer(bad, limits), invalidPrefer, bad);
  }
});

test('job ids: same inputs and owner, same id; every scoring input and the owner change it; shape BullMQ accepts', () => {
  const base: RerankJobData = { query: 'q', documents: ['a', 'b'], raw: false, model: 'm', maxLength: 64 };
  const id = jobIdFor(base, 'owner-a');
  assert.match(id, /^rr-[0-9a-f]{64}$/);
  assert.equal(jobIdFor({ ...base, documents: ['a', 'b'] }, 'owner-a'), id);
  assert.notEqual(jobIdFor(base, 'owner-b'), id, 'another owner gets a job of its own');
  const variants: Partial<RerankJobData>[] = [
    { query: 'q2' },
    { documents: ['b', 'a'] },
    { documents: ['a', 'b', ''] },
    { raw: true },
    { model: 'other' },
    { maxLength: 128 },
  ];
  for (const variant of variants) assert.notEqual(jobIdFor({ ...base, ...variant }, 'owner-a'), id, JSON.stringify(variant));
  // Field boundaries cannot be forged by moving text between query and documents.
  const forged = jobIdFor({ ...base, query: 'a","b', documents: [] }, 'owner-a');
  assert.notEqual(jobIdFor({ ...base, query: 'a', documents: ['b'] }, 'owner-a'), forged);
});

test('validation errors map to the most specific catalogue code', () => {
  const err = (instancePath: string, keyword: string, params: Record<string, unknown> = {}) => ({
    instancePath,
    keyword,
    params,
    schemaPath: '',
    message: 'must be valid',
  });
  const code = (errors: ReturnType<typeof err>[], context: 'body' | 'params' | 'querystring' = 'body') =>
    fromValidation(context, errors).code;
  assert.equal(code([err('', 'required', { missingProperty: 'query' })]), 'EMPTY_QUERY');
  assert.equal(code([err('', 'required', { missingProperty: 'documents' })]), 'NO_DOCUMENTS');
  assert.equal(code([err('', 'type')]), 'VALIDATION_FAILED');
  assert.equal(code([err('/query', 'minLength')]), 'EMPTY_QUERY');
  assert.equal(code([err('/documents', 'minItems')]), 'NO_DOCUMENTS');
  assert.equal(code([err('/documents', 'maxItems', { limit: 3 })]), 'TOO_MANY_DOCUMENTS');
  assert.equal(code([err('/documents/2', 'type'), err('/documents/2', 'anyOf')]), 'INVALID_DOCUMENT');
  const extraId = err('/documents/0', 'additionalProperties', { additionalProperty: 'id' });
  assert.equal(code([err('/documents/0', 'type'), extraId]), 'UNKNOWN_FIELD');
  assert.equal(code([err('/top_k', 'minimum')]), 'INVALID_TOP_K');
  assert.equal(code([err('/raw_scores', 'type')]), 'VALIDATION_FAILED');
  assert.equal(code([err('', 'pattern')], 'params'), 'INVALID_JOB_ID');
  assert.equal(fromValidation('body', [extraId]).message, 'Unknown field "documents.0.id".');
});

test('framework errors: client faults stay 4xx, our faults are 500 without internals', () => {
  const fastifyError = (code: string, statusCode: number) => Object.assign(new Error('boom'), { code, statusCode });
  assert.equal(toServiceError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413)).code, 'PAYLOAD_TOO_LARGE');
  assert.equal(toServiceError(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.equal(toServiceError(fastifyError('FST_ERR_BAD_URL', 400)).code, 'BAD_REQUEST');
  assert.equal(toServiceError(new TypeError('x is undefined')).code, 'INTERNAL_ERROR');
  const own = new ServiceError('QUEUE_FULL');
  assert.equal(toServiceError(own), own);
});

test('a port that cannot be used is one line naming the address and the variable that changes it', () => {
  const config = { HOST: '127.0.0.1', PORT: 8000 };
  const problem = (code: string) => listenProblem(Object.assign(new Error('listen'), { code }), config);
  assert.match(String(problem('EADDRINUSE')), /^Cannot listen on 127\.0\.0\.1:8000: the address is already in use\..*PORT \(or HOST\)/);
  assert.match(String(problem('EACCES')), /PORT/);
  assert.match(String(problem('EADDRNOTAVAIL')), /HOST/);
  assert.equal(problem('ECONNRESET'), undefined, 'other errors keep their stack');
  assert.ok(!String(problem('EADDRINUSE')).includes('\n'));
});

test('a 413 for the body says the limit in bytes', () => {
  const tooLarge = Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
  assert.deepEqual(toServiceError(tooLarge, { bodyLimit: 4096 }).details, { limit: 4096 });
});
