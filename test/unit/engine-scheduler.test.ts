import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchScheduler } from '../../worker/engine/scheduler.ts';
import { loadEngine, type RerankEngine, type ScoreResult } from '../../worker/engine/index.ts';
import { ensureTestModel } from '../support/models.ts';

const WORDS = 'tides rise fall sea levels moon sun ocean bay fundy range world tables high low each day'.split(' ');

/** Documents of varied length, with an empty string every seventh. */
function documents(count: number, seed: number): string[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, (_, i) =>
    i % 7 === 3 ? '' : Array.from({ length: 1 + (next() % 60) }, () => WORDS[next() % WORDS.length]).join(' '),
  );
}

function assertClose(actual: number[], expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, label);
  actual.forEach((score, i) => assert.ok(Math.abs(score - (expected[i] as number)) <= 1e-5, `${label}[${i}]`));
}

describe('concurrent score() calls on one engine', () => {
  let engine: RerankEngine;
  before(async () => {
    engine = await loadEngine({ modelDir: await ensureTestModel('tiny'), intraOpThreads: 1 });
  });
  after(() => engine.close());

  it('give the scores of the same calls made one at a time, in input order', async () => {
    const calls = [1, 20, 33, 500, 0, 7].map((size, i) => ({ query: `query ${i} tides`, docs: documents(size, i + 1) }));
    const together = await Promise.all(calls.map((c, i) => engine.score(c.query, c.docs, { raw: i % 2 === 0 })));
    const alone: ScoreResult[] = [];
    for (const [i, c] of calls.entries()) alone.push(await engine.score(c.query, c.docs, { raw: i % 2 === 0 }));
    calls.forEach((c, i) => {
      assertClose(together[i]!.scores, alone[i]!.scores, `call ${i} (${c.docs.length} docs)`);
      assert.equal(together[i]!.timings.tokens, alone[i]!.timings.tokens);
    });
    // Reordering the documents reorders the scores: scores follow input order, not batch order.
    const reversed = await engine.score(calls[3]!.query, [...calls[3]!.docs].reverse(), { raw: false });
    assertClose(reversed.scores, [...alone[3]!.scores].reverse(), 'reversed');
  });

  it('a call that fails while tokenizing does not fail the others', async () => {
    const good = documents(40, 9);
    const [first, bad, last] = await Promise.allSettled([
      engine.score('q', good),
      engine.score('q', ['fine', null as unknown as string]),
      engine.score('q', good.slice(0, 5)),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal((bad as PromiseRejectedResult).reason.code, 'INFERENCE_FAILED');
    assert.equal(first.status === 'fulfilled' && first.value.scores.length, 40);
    assert.equal(last.status === 'fulfilled' && last.value.scores.length, 5);
  });

  it('a small call started after a large one finishes first', async () => {
    const order: string[] = [];
    const large = engine.score('large', documents(3000, 5)).then((r) => (order.push('large'), r));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const small = engine.score('small', documents(5, 6)).then((r) => (order.push('small'), r));
    const [largeResult, smallResult] = await Promise.all([large, small]);
    assert.deepEqual(order, ['small', 'large']);
    assert.ok(largeResult.timings.batches > 20, `large call ran ${largeResult.timings.batches} batches`);
    // It shared the batches of one round with the large call (its rows length-sorted among the large call's).
    assert.ok(smallResult.timings.batchRows > 5);
  });
});

describe('batches shared across calls', () => {
  it('10 concurrent calls of 5 documents run in fewer than 10 batches', async () => {
    const engine = await loadEngine({
      modelDir: await ensureTestModel('tiny'),
      intraOpThreads: 1,
      maxBatchRows: 64,
      tokenBudget: 64 * 64,
    });
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => engine.score(`q${i}`, documents(5, i))));
      // A call in one batch of R rows holds 5/R of it; summed over calls, that counts the distinct batches.
      let distinct = 0;
      for (const { timings } of results) {
        assert.equal(timings.batches, 1);
        assert.ok(timings.batchRows > 5, `batch of ${timings.batchRows} rows`);
        distinct += 5 / timings.batchRows;
      }
      assert.ok(Math.round(distinct) < 10, `${distinct} batches`);
      assert.equal(Math.round(distinct), 1);
    } finally {
      await engine.close();
    }
  });

  it('close() with calls pending completes them, then refuses new ones', async () => {
    const engine = await loadEngine({ modelDir: await ensureTestModel('tiny'), intraOpThreads: 1 });
    const pending = [engine.score('a', documents(500, 1)), engine.score('b', documents(3, 2)), engine.score('c', [])];
    const closed = engine.close();
    await assert.rejects(engine.score('late', ['x']), { code: 'INFERENCE_FAILED' });
    const results = await Promise.all(pending);
    assert.deepEqual(results.map((r) => r.scores.length), [500, 3, 0]);
    assert.ok(results.every((r) => r.scores.every(Number.isFinite)));
    await closed;
  });
});

describe('BatchScheduler', () => {
  const POISON = 999;
  const pair = (length: number, id = 1) => ({ ids: Array.from({ length }, () => id), typeIds: new Array<number>(length).fill(0) });

  it('a failed batch fails the calls with rows in it, and only those', async () => {
    const runs: number[] = [];
    const scheduler = new BatchScheduler({
      tokenBudget: 1000,
      maxRows: 2,
      roundSize: 8,
      bulkRows: 2,
      padId: 0,
      run: async (batch) => {
        runs.push(batch.rows);
        if (Array.from(batch.inputIds).some((id) => id === BigInt(POISON))) throw new Error('boom');
        return Float32Array.from({ length: batch.rows }, (_, r) => batch.seqLen * 10 + r);
      },
    });
    const a = scheduler.open(2, true);
    const b = scheduler.open(2, true);
    const c = scheduler.open(2, true);
    a.push(0, [pair(1), pair(1)]);
    b.push(0, [pair(2, POISON), pair(5)]);
    c.push(0, [pair(5), pair(2)]);
    // Length-sorted round: [a, a], [b (poison), c], [b, c]; the last batch is dropped, both its calls failed.
    const [ra, rb, rc] = await Promise.allSettled([a.result, b.result, c.result]);
    assert.equal(ra.status, 'fulfilled');
    assert.deepEqual(ra.status === 'fulfilled' && ra.value.scores, [10, 11]);
    assert.equal(rb.status === 'rejected' && (rb.reason as Error).message, 'boom');
    assert.equal(rc.status === 'rejected' && (rc.reason as Error).message, 'boom');
    assert.deepEqual(runs, [2, 2]);
    // The loop goes on for calls that come later.
    const d = scheduler.open(1, true);
    d.push(0, [pair(3)]);
    assert.deepEqual((await d.result).scores, [30]);
  });

  it('interactive rows go before bulk rows: they wait for one small bulk batch at most, never mixed in', async () => {
    const batches: string[] = [];
    const owner = new Map<number, string>([[7, 'bulk'], [8, 'interactive']]);
    let firstBatchStarted: () => void = () => {};
    const firstBatchRunning = new Promise<void>((resolve) => (firstBatchStarted = resolve));
    let interactivePushed: () => void = () => {};
    const pushed = new Promise<void>((resolve) => (interactivePushed = resolve));
    const scheduler = new BatchScheduler({
      tokenBudget: 1000,
      maxRows: 2,
      roundSize: 8,
      bulkRows: 1,
      padId: 0,
      run: async (batch) => {
        const kinds = new Set(Array.from(batch.inputIds, (id) => owner.get(Number(id))).filter(Boolean));
        batches.push([...kinds].join('+'));
        if (batches.length === 1) {
          firstBatchStarted();
          await pushed;
        }
        return new Float32Array(batch.rows);
      },
    });
    const bulk = scheduler.open(8, true, true);
    bulk.push(0, Array.from({ length: 8 }, () => pair(3, 7)));
    await firstBatchRunning;
    // Arrives while the first bulk batch runs: it goes next, ahead of the bulk call's other six rows.
    const interactive = scheduler.open(4, true);
    interactive.push(0, Array.from({ length: 4 }, () => pair(3, 8)));
    interactivePushed();
    await Promise.all([bulk.result, interactive.result]);
    // Bulk rounds are one batch of bulkRows (1 here); the interactive call takes the next round, in maxRows batches.
    assert.deepEqual(batches, ['bulk', 'interactive', 'interactive', ...Array(7).fill('bulk')]);
  });

  it('an aborted call stops before its next batch and rejects CANCELLED', async () => {
    const engine = await loadEngine({ modelDir: await ensureTestModel('tiny'), intraOpThreads: 1 });
    try {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(engine.score('q', documents(500, 3), { signal: controller.signal }), { code: 'CANCELLED' });
      const running = new AbortController();
      const call = engine.score('q', documents(5_000, 4), { signal: running.signal, priority: 'bulk' });
      setImmediate(() => running.abort());
      await assert.rejects(call, { code: 'CANCELLED' });
      assert.equal((await engine.score('q', ['still works'])).scores.length, 1);
    } finally {
      await engine.close();
    }
  });
});
