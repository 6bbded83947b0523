/** The dialect adapters as pure functions: request mapping, response shape, error bodies, token estimate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { cohereErrorBody, fromCohereV1, fromCohereV2, toCohereResponse } from '../../api/compat/cohere.ts';
import { dialectErrorHandler } from '../../api/compat/errors.ts';
import { estimateTokens } from '../../api/compat/sync.ts';
import { fromTei, teiErrorBody, teiInfo, toTeiResponse } from '../../api/compat/tei.ts';
import { loadConfig } from '../../shared/config.ts';
import { ServiceError } from '../../shared/errors.ts';

const ranked = { ranking: { rankings: [{ index: 1, score: 0.9 }, { index: 0, score: 0.2 }], top_k_applied: false }, tokens: 42, model: 'm' };

test('Cohere v1: strings and {text} as they are, rank_fields as "field: value" lines, null as absent', () => {
  const request = fromCohereV1({
    query: 'q',
    documents: ['plain', { text: 'texted' }],
    top_n: null,
    rank_fields: null,
    max_chunks_per_doc: null,
  });
  assert.deepEqual(request, { query: 'q', documents: ['plain', 'texted'], top_k: undefined });
  const fielded = fromCohereV1({ query: 'q', documents: [{ title: 'T', body: 'B' }, 'plain'], rank_fields: ['title', 'missing', 'body'], top_n: 1 });
  assert.deepEqual(fielded.documents, ['title: T\nbody: B', 'plain']);
  assert.equal(fielded.top_k, 1);
  assert.throws(() => fromCohereV1({ query: 'q', documents: ['a', { title: 'no text' }] }), (error: ServiceError) => {
    assert.equal(error.code, 'INVALID_DOCUMENT');
    assert.deepEqual(error.details, { index: 1 });
    return true;
  });
  assert.deepEqual(fromCohereV2({ model: 'm', query: 'q', documents: ['a'], top_n: 2 }), { query: 'q', documents: ['a'], top_k: 2, model: 'm' });
  assert.equal(fromCohereV1({ model: 'm', query: 'q', documents: ['a'] }).model, 'm');
});

test('Cohere response: results in ranking order, documents echoed only when asked, search units per 100 documents', () => {
  const plain = toCohereResponse(ranked, { version: '2', documentCount: 250 });
  assert.deepEqual(plain.results, [{ index: 1, relevance_score: 0.9 }, { index: 0, relevance_score: 0.2 }]);
  assert.deepEqual(plain.meta, { api_version: { version: '2' }, billed_units: { search_units: 3 } });
  assert.deepEqual(plain.usage, { total_tokens: 42 });
  assert.equal(plain.model, 'm');
  assert.match(plain.id, /^[0-9a-f-]{36}$/);
  const echoed = toCohereResponse(ranked, { version: '1', documentCount: 2, echo: ['a', { text: 'b', id: '7' }] });
  assert.deepEqual(echoed.results.map((result) => result.document), [{ text: 'b', id: '7' }, { text: 'a' }]);
  assert.equal(echoed.meta.billed_units.search_units, 1);
});

test('TEI: raw_scores maps to raw, texts echoed on return_text, error types by status, /info from config', () => {
  assert.deepEqual(fromTei({ query: 'q', texts: ['a'], raw_scores: true }), { query: 'q', documents: ['a'], raw_scores: true });
  assert.deepEqual(toTeiResponse(ranked, { query: 'q', texts: ['a', 'b'], return_text: true }), [
    { index: 1, score: 0.9, text: 'b' },
    { index: 0, score: 0.2, text: 'a' },
  ]);
  assert.deepEqual(toTeiResponse(ranked, { query: 'q', texts: ['a', 'b'] }), [{ index: 1, score: 0.9 }, { index: 0, score: 0.2 }]);
  const types = (['EMPTY_QUERY', 'TOO_MANY_DOCUMENTS', 'UNAUTHORIZED', 'QUEUE_FULL', 'REDIS_UNAVAILABLE', 'SYNC_TIMEOUT', 'INFERENCE_FAILED'] as const).map(
    (code) => teiErrorBody(new ServiceError(code), 'm').error_type,
  );
  assert.deepEqual(types, ['validation', 'validation', 'unauthorized', 'overloaded', 'unhealthy', 'unhealthy', 'backend']);
  const info = teiInfo(loadConfig({ MODEL_DIR: 'models/x', MAX_SEQ_LENGTH: '128', MAX_DOCUMENTS: '50' }));
  assert.equal(info.model_id, 'x');
  assert.equal(info.max_input_length, 128);
  assert.equal(info.max_client_batch_size, 50);
  assert.deepEqual(cohereErrorBody(new ServiceError('EMPTY_QUERY'), 'msg'), { message: 'msg' });
});

test('the token estimate: ~4 characters per token plus 3 specials per pair, capped at the window', () => {
  assert.equal(estimateTokens({ query: 'abcd', documents: ['abcd', { text: 'x'.repeat(400) }] }, 64), 5 + 64);
});

test('dialect errors: native statuses and codes, TEI field aliases, Retry-After, 5xx without internals', async (t) => {
  const app = Fastify();
  t.after(() => app.close());
  app.setErrorHandler(dialectErrorHandler({ body: teiErrorBody, fieldAliases: { texts: 'documents' } }));
  const schema = { body: { type: 'object', properties: { texts: { type: 'array', maxItems: 1 } } } };
  app.post('/tei', { schema }, async () => ({}));
  app.post('/boom', async () => {
    throw new Error('ECONNREFUSED 10.0.0.7');
  });
  app.post('/busy', async () => {
    throw new ServiceError('QUEUE_FULL');
  });
  const tooMany = await app.inject({ method: 'POST', url: '/tei', payload: { texts: ['a', 'b'] } });
  assert.equal(tooMany.statusCode, 413);
  assert.deepEqual(tooMany.json(), { error: 'At most 1 documents per request.', error_type: 'validation' });
  const boom = await app.inject({ method: 'POST', url: '/boom', payload: {} });
  assert.equal(boom.statusCode, 500);
  assert.deepEqual(boom.json(), { error: 'Internal error.', error_type: 'backend' });
  const busy = await app.inject({ method: 'POST', url: '/busy', payload: {} });
  assert.equal(busy.statusCode, 429);
  assert.equal(busy.headers['retry-after'], '1');
});
