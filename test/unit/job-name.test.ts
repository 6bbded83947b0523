import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobDisplayName } from '../../shared/job-name.ts';

test('job names show the first words of the query and the document count', () => {
  assert.equal(jobDisplayName('who founded  fastapi', 2), '"who founded fastapi" × 2');
  assert.equal(
    jobDisplayName('neural passage retrieval with cross encoders for open domain QA', 20_000),
    '"neural passage retrieval with cross…" × 20,000',
  );
  assert.ok(jobDisplayName('x'.repeat(500), 1).length < 60);
});
