import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadEngine, type RerankEngine } from '../../worker/engine/index.ts';
import { sigmoid } from '../../worker/engine/scorer.ts';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel, type TestModelOptions } from '../support/models.ts';
import { loadReferenceModel, type ReferenceModel } from '../support/reference-bert.ts';

const TOLERANCE = 1e-4;
const MAX_LENGTH = 64;
const LONG = 'The Bay of Fundy, between New Brunswick and Nova Scotia, has the highest tides on Earth; ';

/** 24 pairs in 4 queries; documents deliberately not in length order. */
const CASES: Array<{ query: string; documents: string[] }> = [
  {
    query: 'what causes tides',
    documents: [
      LONG.repeat(6),
      'the moon',
      '',
      'Tides are caused by the gravitational pull of the Moon and the Sun.',
      LONG.repeat(2),
      'x',
      'Spring tides happen at new and full moon; neap tides at the quarters.',
    ],
  },
  {
    query: '',
    documents: ['an empty query is allowed', '', LONG.repeat(3), 'short'],
  },
  {
    query: 'Ünïcödé: 潮汐 & émojis 🌊 — naïve café',
    documents: [
      'Gezeiten entstehen durch die Anziehungskraft des Mondes.',
      '潮汐是海水在天体引潮力作用下产生的周期性运动。',
      '🌊🌊🌊 tidal wave 🌕',
      'Ἡ θάλασσα — ﬁne ligatures, Ⅻ numerals, and zero\u200bwidth spaces',
      `${'ß'.repeat(40)} ${'ﬀ'.repeat(40)}`,
      '',
    ],
  },
  {
    query: `a query that is itself far longer than the maximum length ${LONG.repeat(4)}`,
    documents: ['short doc', LONG.repeat(5), 'medium length document about tides and the moon', '', 'y', 'z z z'],
  },
];

function describeModel(arch: 'tiny' | 'tinybert', options: TestModelOptions): void {
  describe(`engine vs float64 reference: ${arch}${options.realVocab ? ' (real vocab)' : ''}`, () => {
    let modelDir: string;
    let engine: RerankEngine;
    let reference: ReferenceModel;
    let tokenizer: PairTokenizer;

    before(async () => {
      modelDir = await ensureTestModel(arch, options);
      // Small batches so every query is split and length-sorted across several inference calls.
      engine = await loadEngine({ modelDir, maxLength: MAX_LENGTH, intraOpThreads: 1, maxBatchRows: 3 });
      reference = loadReferenceModel(modelDir);
      tokenizer = await PairTokenizer.load({
        tokenizerPath: path.join(modelDir, 'tokenizer.json'),
        modelDir,
        maxLength: engine.info.maxLength,
      });
    });
    after(() => engine.close());

    /** Reference logits of the exact token ids, one unpadded sequence at a time. */
    async function expectedLogits(query: string, documents: string[]): Promise<number[]> {
      const pairs = await tokenizer.encodePairs(query, documents);
      return pairs.map((p) => reference.logit({ inputIds: p.ids, tokenTypeIds: p.typeIds }));
    }

    it('raw logits match within 1e-4, in input order', async () => {
      let compared = 0;
      for (const { query, documents } of CASES) {
        const expected = await expectedLogits(query, documents);
        const { scores, timings } = await engine.score(query, documents, { raw: true });
        assert.ok(timings.batches >= 2, 'the case should span several length-sorted batches');
        assert.equal(scores.length, documents.length);
        scores.forEach((score, i) => {
          const want = expected[i] as number;
          assert.ok(Math.abs(score - want) <= TOLERANCE, `doc ${i} of "${query.slice(0, 20)}": ${score} vs ${want}`);
        });
        compared += scores.length;
      }
      assert.ok(compared >= 20);
    });

    it('default scores are sigmoid(logit) and match within 1e-4', async () => {
      for (const { query, documents } of CASES) {
        const expected = await expectedLogits(query, documents);
        const { scores } = await engine.score(query, documents);
        scores.forEach((score, i) => {
          assert.ok(score >= 0 && score <= 1);
          assert.ok(Math.abs(score - sigmoid(expected[i] as number)) <= TOLERANCE, `doc ${i}: ${score}`);
        });
      }
    });

    it('a document scores the same alone, in any position and with any neighbours', async () => {
      const { query, documents } = CASES[0] as (typeof CASES)[number];
      const together = (await engine.score(query, documents, { raw: true })).scores;
      const reversed = (await engine.score(query, [...documents].reverse(), { raw: true })).scores.reverse();
      for (let i = 0; i < documents.length; i++) {
        const alone = (await engine.score(query, [documents[i] as string], { raw: true })).scores[0] as number;
        assert.ok(Math.abs(alone - (together[i] as number)) <= 1e-5, `doc ${i}: ${alone} vs ${together[i]}`);
        assert.ok(Math.abs((reversed[i] as number) - (together[i] as number)) <= 1e-5, `doc ${i} reversed`);
      }
    });

    it('the scores are not all alike (the comparison has teeth)', async () => {
      const { query, documents } = CASES[0] as (typeof CASES)[number];
      const { scores } = await engine.score(query, documents, { raw: true });
      assert.ok(new Set(scores.map((s) => s.toFixed(4))).size >= documents.length - 1);
    });
  });
}

describeModel('tiny', {});
describeModel('tinybert', { realVocab: true });
