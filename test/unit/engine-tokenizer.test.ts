import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { loadEngine } from '../../worker/engine/index.ts';
import { capChars, capWords, charCapFor, PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { ensureTestModel } from '../support/models.ts';

const CLS = 101;
const SEP = 102;

const SENTENCES = [
  'Tides are caused by the gravitational pull of the Moon and, to a lesser extent, the Sun.',
  'In 1687 Isaac Newton explained them in the Principia; Laplace refined the dynamic theory in 1775.',
  'Spring tides (about 20% higher) occur near new and full moon — neap tides near the quarters.',
  "The Bay of Fundy's range can exceed 16 m, the largest recorded anywhere on Earth!",
  'Café owners in Saint-Malo post tide tables: high water 06:42, low water 12:58.',
  'Gezeiten entstehen durch die Anziehungskraft des Mondes über die Erdoberfläche hinweg.',
  '潮汐是海水在天体引潮力作用下产生的周期性运动。',
  'Tidal power stations, e.g. La Rance (240 MW), convert this motion into electricity.',
  'See https://example.org/tides?units=metric&station=brest for hourly predictions.',
  'Internationalization-related pseudopseudohypoparathyroidism antidisestablishmentarianism.',
];

/** Deterministic, varied prose (punctuation, numbers, accents, CJK, URLs, long words) of about `chars` length. */
function longRealisticDoc(seed: number, chars: number): string {
  let state = seed;
  const parts: string[] = [];
  let length = 0;
  while (length < chars) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const sentence = SENTENCES[state % SENTENCES.length] as string;
    const separator = state % 7 === 0 ? '\n\n' : ' ';
    parts.push(sentence, separator);
    length += sentence.length + separator.length;
  }
  return parts.join('');
}

describe('capChars', () => {
  it('leaves text within the cap untouched', () => {
    assert.equal(capChars('short text', 10), 'short text');
    assert.equal(capChars('', 10), '');
  });

  it('cuts at the last whitespace before the cap', () => {
    assert.equal(capChars('alpha beta gamma delta', 13), 'alpha beta');
    assert.equal(capChars('alpha beta\ngamma', 11), 'alpha beta');
  });

  it('cuts hard when there is no whitespace, never inside a surrogate pair', () => {
    assert.equal(capChars('x'.repeat(500), 300), 'x'.repeat(300));
    const emoji = '😀'.repeat(300); // 600 UTF-16 units
    assert.equal(capChars(emoji, 301), '😀'.repeat(150));
    assert.equal(capChars(emoji, 300), '😀'.repeat(150));
  });

  it('capWords keeps whole visible words and skips invisible chunks', () => {
    assert.equal(capWords('one two  three four', 2), 'one two');
    assert.equal(capWords('one \u200b two three', 2), 'one \u200b two');
    assert.equal(capWords('one two', 5), 'one two');
    assert.equal(capWords('', 5), '');
  });

  it('scales with maxLength and stays above WordPiece\'s 100-character word limit', () => {
    assert.ok(charCapFor(8) >= 1000);
    assert.ok(charCapFor(512) >= 512 * 16);
  });
});

describe('PairTokenizer with the real BERT vocabulary', () => {
  let modelDir: string;
  let tokenizerPath: string;
  /** The library tokenizer without specials or truncation, to derive expected pair layouts independently. */
  let plain: Tokenizer;
  const pieces = async (text: string) => (await plain.encode(text, null, { addSpecialTokens: false })).getIds();
  const load = (maxLength: number) => PairTokenizer.load({ tokenizerPath, modelDir, maxLength });
  /** No cut before tokenization: what the ids must equal. */
  const loadUncut = (maxLength: number) =>
    PairTokenizer.load({ tokenizerPath, modelDir, maxLength, charCap: Number.POSITIVE_INFINITY, cutWords: false });

  before(async () => {
    modelDir = await ensureTestModel('tinybert', { realVocab: true });
    tokenizerPath = path.join(modelDir, 'tokenizer.json');
    plain = Tokenizer.fromFile(tokenizerPath);
    plain.disableTruncation();
    plain.disablePadding();
  });

  it('lays out [CLS] query [SEP] doc [SEP] with known ids and type ids', async () => {
    const [pair] = await (await load(64)).encodePairs('hello world', ['a quick brown fox']);
    assert.deepEqual(pair?.ids, [CLS, 7592, 2088, SEP, 1037, 4248, 2829, 4419, SEP]);
    assert.deepEqual(pair?.typeIds, [0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('encodes empty queries and documents as bare specials', async () => {
    const pairs = await (await load(64)).encodePairs('', ['', 'doc']);
    assert.deepEqual(pairs[0]?.ids, [CLS, SEP, SEP]);
    assert.deepEqual(pairs[0]?.typeIds, [0, 0, 1]);
    assert.deepEqual(pairs[1]?.ids, [CLS, SEP, 9986, SEP]);
  });

  /** Longest-first as in HF tokenizers (= Python truncation=True), budget = maxLength - 3 specials. */
  function longestFirst(q: number, d: number, budget: number): [number, number] {
    if (q + d <= budget) return [q, d];
    const [short, long] = q <= d ? [q, d] : [d, q];
    let keepShort = short;
    let keepLong = short > budget ? short : Math.max(short, budget - short);
    if (keepShort + keepLong > budget) {
      keepShort = Math.floor(budget / 2);
      keepLong = keepShort + (budget % 2);
    }
    return q <= d ? [keepShort, keepLong] : [keepLong, keepShort];
  }

  const cases: Array<[string, string, string]> = [
    ['doc longer than the budget', 'what is a fox', 'the quick brown fox jumps over the lazy dog again and again'],
    ['query longer than maxLength', 'a very long query '.repeat(10), 'short doc'],
    ['both longer than maxLength', 'query words '.repeat(12), 'document words here '.repeat(12)],
    ['query longer, both long', 'query words '.repeat(20), 'document words here '.repeat(3)],
    ['fits without truncation', 'fox', 'a fox'],
  ];
  for (const maxLength of [12, 13]) {
    for (const [name, query, doc] of cases) {
      it(`truncates longest-first including specials: ${name} (maxLength ${maxLength})`, async () => {
        const [pair] = await (await load(maxLength)).encodePairs(query, [doc]);
        const q = await pieces(query);
        const d = await pieces(doc);
        const [keepQ, keepD] = longestFirst(q.length, d.length, maxLength - 3);
        assert.deepEqual(pair?.ids, [CLS, ...q.slice(0, keepQ), SEP, ...d.slice(0, keepD), SEP]);
        assert.deepEqual(pair?.typeIds, [...new Array(keepQ + 2).fill(0), ...new Array(keepD + 1).fill(1)]);
        assert.ok((pair?.ids.length ?? 0) <= maxLength);
      });
    }
  }

  for (const maxLength of [64, 512]) {
    it(`cutting characters and words before tokenization does not change the ids (maxLength ${maxLength})`, async () => {
      const capped = await load(maxLength);
      const uncapped = await loadUncut(maxLength);
      for (let seed = 1; seed <= 12; seed++) {
        const doc = longRealisticDoc(seed, 60_000);
        const query = seed % 3 === 0 ? longRealisticDoc(seed + 100, 30_000) : 'how do tides work';
        const [a] = await capped.encodePairs(query, [doc]);
        const [b] = await uncapped.encodePairs(query, [doc]);
        assert.deepEqual(a?.ids, b?.ids, `seed ${seed}`);
        assert.equal(a?.ids.length, maxLength);
      }
    });
  }

  /** Words that yield no token, or many, or tokens across "words": the cases a word count could get wrong. */
  const TRICKY_DOCS = [
    // Invisible chunks must not count as words (kept within the char cap, which by design bounds cost first).
    `${'\u200b \u0007 \ufeff \u0301 '.repeat(40)}${'tides '.repeat(100)}`,
    `${'pseudopseudohypoparathyroidism '.repeat(80)}`, // one word, several tokens
    `${`${'x'.repeat(150)} `.repeat(5)}${'tides '.repeat(100)}`, // words over 100 chars: one [UNK] each
    '潮汐是海水在天体引潮力作用下产生的周期性运动'.repeat(40), // no whitespace at all
    `${'a,b;c '.repeat(100)}`, // punctuation splits words into several tokens
    `${'🌊 '.repeat(100)}`,
    `${'word\u00a0'.repeat(100)}${'word\u3000'.repeat(100)}`, // non-ASCII whitespace
    'short document',
    '',
  ];
  const TRICKY_QUERIES = ['tides', '', 'query '.repeat(6), 'query '.repeat(7), 'query '.repeat(13), 'query '.repeat(14), 'query '.repeat(30), 'query '.repeat(61), 'query '.repeat(62), 'query '.repeat(80), 'query '.repeat(300)];
  for (const maxLength of [16, 17, 64]) {
    it(`cutting is invisible for adversarial documents and queries of every length (maxLength ${maxLength})`, async () => {
      const capped = await load(maxLength);
      const uncapped = await loadUncut(maxLength);
      for (const query of TRICKY_QUERIES) {
        const a = await capped.encodePairs(query, TRICKY_DOCS);
        const b = await uncapped.encodePairs(query, TRICKY_DOCS);
        a.forEach((pair, i) => assert.deepEqual(pair.ids, b[i]?.ids, `query ${query.length} chars, doc ${i}`));
      }
    });
  }

  it('cuts long documents by words only when the query leaves room for them', async () => {
    const doc = 'tide '.repeat(1000);
    const tokenizer = await load(16);
    // 13 = 16 - 3 special tokens: the query fits, every document longer than 16 words is cut.
    const [fits] = await tokenizer.encodePairs('q '.repeat(13), [doc]);
    const [overflows] = await tokenizer.encodePairs('q '.repeat(14), [doc]);
    assert.equal(fits?.ids.length, 16);
    assert.equal(overflows?.ids.length, 16);
    assert.equal(capWords(doc, 16), 'tide '.repeat(16).trimEnd());
  });

  it('tokenizes a 10 MB document about as fast as a short one', async () => {
    const huge = longRealisticDoc(7, 10 * 1024 * 1024);
    const tokenizer = await load(64);
    await tokenizer.encodePairs('q', ['warm up']);
    const t0 = performance.now();
    const [pair] = await tokenizer.encodePairs('how do tides work', [huge]);
    const ms = performance.now() - t0;
    assert.equal(pair?.ids.length, 64);
    // Uncut, this document takes tens of seconds; cut, a few milliseconds (generous bound for a busy machine).
    assert.ok(ms < 500, `took ${ms.toFixed(1)} ms`);
  });

  it('caps maxLength at the model limit and reports it', async () => {
    const tinyDir = await ensureTestModel('tiny');
    const engine = await loadEngine({ modelDir: tinyDir, maxLength: 4096, intraOpThreads: 1 });
    try {
      assert.equal(engine.info.maxLength, 128); // the tiny architecture's max_position_embeddings
      const long = 'word '.repeat(400);
      const { timings } = await engine.score(long, [long]);
      assert.equal(timings.tokens, 128);
    } finally {
      await engine.close();
    }
  });
});
