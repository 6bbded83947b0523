import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { padBatch, planBatches } from '../../worker/engine/batcher.ts';
import { scatterScores, sigmoid } from '../../worker/engine/scorer.ts';

/** Deterministic pseudo-random lengths so a failure reproduces. */
function lengthsFor(seed: number, n: number, max: number): number[] {
  let state = seed;
  return Array.from({ length: n }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return 3 + (state % (max - 2));
  });
}

describe('planBatches', () => {
  for (const [seed, n, budget, maxRows] of [
    [1, 100, 2048, 32],
    [2, 257, 512, 8],
    [3, 1, 2048, 32],
    [4, 64, 64, 128],
    [5, 300, 10_000, 1],
  ] as const) {
    it(`respects budget ${budget} / ${maxRows} rows and places every index once (seed ${seed}, n ${n})`, () => {
      const lengths = lengthsFor(seed, n, 64);
      const batches = planBatches(lengths, { tokenBudget: budget, maxRows });
      const seen = batches.flat().sort((a, b) => a - b);
      assert.deepEqual(seen, lengths.map((_, i) => i));
      for (const batch of batches) {
        assert.ok(batch.length >= 1 && batch.length <= maxRows);
        const padded = batch.length * Math.max(...batch.map((i) => lengths[i] ?? 0));
        assert.ok(padded <= budget || batch.length === 1, `batch of ${batch.length} rows pads to ${padded}`);
      }
    });
  }

  it('groups by length so short rows are not padded to long ones', () => {
    const lengths = [60, 5, 61, 6, 62, 7, 63, 8];
    const batches = planBatches(lengths, { tokenBudget: 4 * 64, maxRows: 4 });
    assert.deepEqual(batches, [
      [1, 3, 5, 7],
      [0, 2, 4, 6],
    ]);
  });

  it('gives a row longer than the budget a batch of its own', () => {
    assert.deepEqual(planBatches([10, 100, 10], { tokenBudget: 50, maxRows: 8 }), [[0, 2], [1]]);
  });

  it('returns no batches for no rows', () => {
    assert.deepEqual(planBatches([], { tokenBudget: 100, maxRows: 8 }), []);
  });
});

describe('padBatch', () => {
  it('pads to the longest selected row with the pad id, mask 0 and type 0', () => {
    const pairs = [
      { ids: [101, 7, 102, 8, 102], typeIds: [0, 0, 0, 1, 1] },
      { ids: [101, 9, 102], typeIds: [0, 0, 0] },
    ];
    const batch = padBatch(pairs, [1, 0], 3);
    assert.equal(batch.rows, 2);
    assert.equal(batch.seqLen, 5);
    assert.deepEqual([...batch.inputIds], [101n, 9n, 102n, 3n, 3n, 101n, 7n, 102n, 8n, 102n]);
    assert.deepEqual([...batch.attentionMask], [1n, 1n, 1n, 0n, 0n, 1n, 1n, 1n, 1n, 1n]);
    assert.deepEqual([...batch.tokenTypeIds], [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 1n, 1n]);
  });
});

describe('scorer', () => {
  it('sigmoid is correct and does not overflow', () => {
    assert.equal(sigmoid(0), 0.5);
    assert.ok(Math.abs(sigmoid(2) - 1 / (1 + Math.exp(-2))) < 1e-15);
    assert.ok(Math.abs(sigmoid(-2) - 1 / (1 + Math.exp(2))) < 1e-15);
    assert.equal(sigmoid(1000), 1);
    assert.equal(sigmoid(-1000), 0);
    assert.ok(!Number.isNaN(sigmoid(-1e308)));
  });

  it('scatters batch logits back to input order, raw or sigmoid', () => {
    const scores = new Array<number>(4).fill(Number.NaN);
    scatterScores(new Float32Array([1, -1]), [3, 0], scores, true);
    scatterScores(new Float32Array([0, 2]), [1, 2], scores, false);
    assert.deepEqual(scores, [-1, 0.5, sigmoid(2), 1]);
  });

  it('restores input order after length-sorted batching', () => {
    const lengths = lengthsFor(9, 50, 64);
    const scores = new Array<number>(lengths.length).fill(Number.NaN);
    for (const batch of planBatches(lengths, { tokenBudget: 256, maxRows: 8 })) {
      // A fake model whose logit is the row's length: input order is right iff scores equal lengths.
      scatterScores(Float32Array.from(batch.map((i) => lengths[i] ?? 0)), batch, scores, true);
    }
    assert.deepEqual(scores, lengths);
  });

  it('rejects a logit count that does not match the rows', () => {
    assert.throws(() => scatterScores(new Float32Array(3), [0, 1], [], false), RangeError);
  });
});
