import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ERRORS, ServiceError, errorBody, exposesMessage, isErrorCode, type ErrorCode } from '../../shared/errors.ts';

const docs = readFileSync(resolve(import.meta.dirname, '../../docs/api.md'), 'utf8');
const codes = Object.keys(ERRORS) as ErrorCode[];

test('every catalogue code is documented in docs/api.md with its status', () => {
  for (const code of codes) {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is missing from the error table in docs/api.md`);
    assert.match(row, new RegExp(`\\|\\s*${ERRORS[code].status}\\s*\\|`), `${code} has the wrong status in docs`);
  }
});

test('codes are stable UPPER_SNAKE names with an HTTP error status and a message', () => {
  for (const code of codes) {
    assert.match(code, /^[A-Z][A-Z_]+$/);
    assert.ok(ERRORS[code].status >= 400 && ERRORS[code].status < 600, code);
    assert.ok(ERRORS[code].message.length > 0, code);
    assert.ok(isErrorCode(code));
  }
  assert.equal(isErrorCode('NOPE'), false);
});

test('5xx bodies carry the catalogue message only, never internals or details', () => {
  for (const code of codes.filter((c) => ERRORS[c].status >= 500 && !exposesMessage(c))) {
    const body = errorBody(new ServiceError(code, 'ECONNREFUSED 10.0.0.7:6379 at Socket.connect', { stack: 'x' }));
    assert.deepEqual(body, { error: { code, message: ERRORS[code].message } });
  }
});

test('4xx bodies keep the specific message and details', () => {
  const body = errorBody(new ServiceError('UNKNOWN_FIELD', 'Unknown field "topk".', { field: 'topk' }));
  assert.deepEqual(body, { error: { code: 'UNKNOWN_FIELD', message: 'Unknown field "topk".', details: { field: 'topk' } } });
  const plain = errorBody(new ServiceError('NO_DOCUMENTS'));
  assert.deepEqual(plain, { error: { code: 'NO_DOCUMENTS', message: ERRORS.NO_DOCUMENTS.message } });
});

test('WORKER_CRASHED keeps its worker-built message (a count, no internals) but never details', () => {
  const body = errorBody(new ServiceError('WORKER_CRASHED', 'The job stopped its worker 2 times.', { stack: 'x' }));
  assert.deepEqual(body, { error: { code: 'WORKER_CRASHED', message: 'The job stopped its worker 2 times.' } });
});
