import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { publicFailure, publicReason, withPublicFailures } from '../../worker/public-failure.ts';

test('server paths and stack frames are removed from a failure reason; URLs and indexes stay', () => {
  assert.equal(
    publicReason('INFERENCE_FAILED: Load model from /srv/app/models/m/onnx/model.onnx failed: bad protobuf'),
    'INFERENCE_FAILED: Load model from <path> failed: bad protobuf',
  );
  assert.equal(
    publicReason('INFERENCE_FAILED: boom\n    at run (/srv/app/worker/engine/session.ts:10:5)\n    at file:///srv/x.js:1:1'),
    'INFERENCE_FAILED: boom',
  );
  assert.equal(publicReason(String.raw`INFERENCE_FAILED: cannot open C:\models\m.onnx`), 'INFERENCE_FAILED: cannot open <path>');
  assert.equal(publicReason('INVALID_JOB_DATA: documents[3] must be a string'), 'INVALID_JOB_DATA: documents[3] must be a string');
  assert.equal(publicReason('x: see http://127.0.0.1:9/a/b and a/b/c'), 'x: see http://127.0.0.1:9/a/b and a/b/c');
  assert.ok(publicReason(`INFERENCE_FAILED: ${'x'.repeat(5_000)}`).length <= 1_001);
});

test('a failure keeps its kind, loses its stack, and gets a catalogue code when it has none', () => {
  const unrecoverable = publicFailure(new UnrecoverableError('INVALID_JOB_DATA: documents[0] must be a string'));
  assert.ok(unrecoverable instanceof UnrecoverableError);
  assert.equal(unrecoverable.message, 'INVALID_JOB_DATA: documents[0] must be a string');
  assert.equal(unrecoverable.stack, '');

  const bug = publicFailure(new TypeError('Cannot read properties of undefined (reading /srv/app/x.ts)'));
  assert.ok(bug instanceof Error && !(bug instanceof UnrecoverableError));
  assert.equal(bug.message, 'INTERNAL_ERROR: Cannot read properties of undefined (reading <path>)');
  assert.equal(bug.stack, '');
  assert.ok(bug.cause instanceof TypeError, 'the original stays as the cause, for logs');
});

test("BullMQ's control-flow errors pass through unchanged", async () => {
  const waiting = new WaitingChildrenError();
  assert.equal(publicFailure(waiting), waiting);
  const processor = withPublicFailures(async (value: number) => {
    if (value > 1) throw new Error('INFERENCE_FAILED: at /srv/app/a/b');
    return value;
  });
  assert.equal(await processor(1), 1);
  await assert.rejects(processor(2), { message: 'INFERENCE_FAILED: at <path>', stack: '' });
});
