import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { loadEngine } from '../../worker/engine/index.ts';
import { longestFirst } from '../../worker/engine/pair-layout.ts';
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

/**
 * Pairs assembled in JS from single-sequence encodings must equal `encode(query, doc)` with
 * `setTruncation(maxLength)` id for id, in every branch of longest-first truncation.
 */
describe('assembled pairs equal encode(query, doc)', () => {
  /** One token each mostly; several (long, accented, CJK, punctuated, URL), none (invisible) or [UNK] otherwise. */
  const WORDS = [
    'tide', 'ocean', 'moon', 'the', 'of', 'and', 'gravity', 'water', 'level', 'sea', 'high', 'low', 'bay',
    'pseudopseudohypoparathyroidism', 'antidisestablishmentarianism', 'Internationalization-related',
    'café', 'naïve', 'Ångström', 'Saint-Malo', 'Gezeiten', 'Erdoberfläche', '潮汐是海水', '天体引潮力',
    '🌊', '😀👍', 'e.g.', '(240', 'MW),', '06:42,', '20%', 'https://example.org/tides?units=metric',
    'x'.repeat(120), '\u200b', '[SEP]', '[UNK]', 'ЖЁЛТЫЙ', 'ελληνικά', 'مرحبا', '1687',
  ];
  const SPACES = [' ', ' ', ' ', ' ', '\n', '\t', '\u00a0', '  '];

  function random(seed: number): () => number {
    let state = seed;
    return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  }

  /** Token lengths around every threshold of the rule for this budget. */
  function lengths(maxLength: number): number[] {
    const b = maxLength - 3;
    const h = Math.floor(b / 2);
    return [0, 1, 3, Math.floor(b / 4), h - 1, h, h + 1, b - 3, b - 1, b, b + 1, maxLength, maxLength + 2, 2 * maxLength, 6 * maxLength];
  }

  /**
   * A text of exactly `target` tokens: BERT pre-tokenizes on whitespace first, so a text's token count is the
   * sum of its words' counts; single letters (one token in any WordPiece vocabulary) fill up to the target.
   */
  function text(next: () => number, target: number, counts: ReadonlyMap<string, number>): string {
    const parts: string[] = [];
    let tokens = 0;
    while (tokens < target) {
      const word = WORDS[Math.floor(next() * WORDS.length)] as string;
      const n = counts.get(word) ?? Number.POSITIVE_INFINITY;
      const fits = tokens + n <= target;
      parts.push(fits ? word : String.fromCharCode(97 + Math.floor(next() * 26)));
      tokens += fits ? n : 1;
      parts.push(SPACES[Math.floor(next() * SPACES.length)] as string);
    }
    return parts.join('').trimEnd();
  }

  function generate(maxLength: number, seed: number, counts: ReadonlyMap<string, number>) {
    const next = random(seed);
    const sizes = lengths(maxLength);
    const pick = () => Math.max(0, (sizes[Math.floor(next() * sizes.length)] as number) + Math.floor(next() * 5) - 2);
    return Array.from({ length: 60 }, (_, i) => {
      const query = i < 3 ? ['', ' ', '\u200b'][i] as string : text(next, pick(), counts);
      // Some documents the length of the query, for the tie where the document gets the odd token.
      const docs = Array.from({ length: 15 }, () => (next() < 0.1 ? query.split(/\s+/).reverse().join(' ') : text(next, pick(), counts)));
      return { query, docs };
    });
  }

  /** Which branch of the rule a pair takes, from exact lengths (q <= budget) or 'long query'. */
  function branch(q: number, d: number, budget: number): string {
    if (q > budget) return d > budget ? 'both over budget' : 'long query, short doc';
    if (q === 0) return 'empty query';
    if (d === 0) return 'empty doc';
    const [kq, kd] = longestFirst(q, d, budget);
    if (kq === q && kd === d) return 'fits';
    if (kq === q) return 'doc cut';
    if (kd === d) return 'query cut';
    return q === d ? 'both cut, equal' : 'both cut';
  }

  for (const [model, options] of [['tinybert', { realVocab: true }], ['tiny', {}]] as const) {
    for (const maxLength of [17, 32, 64, 128]) { // budgets 14 (even), 29, 61, 125
      it(`${model}, maxLength ${maxLength}: 900 generated pairs, cut and uncut`, async () => {
        const modelDir = await ensureTestModel(model, options);
        const tokenizerPath = path.join(modelDir, 'tokenizer.json');
        const reference = Tokenizer.fromFile(tokenizerPath);
        reference.setTruncation(maxLength);
        reference.disablePadding();
        const plain = Tokenizer.fromFile(tokenizerPath);
        plain.disableTruncation();
        const count = async (s: string) => (await plain.encode(s, null, { addSpecialTokens: false })).getLength();
        const assembled = await PairTokenizer.load({ tokenizerPath, modelDir, maxLength });
        const uncut = await PairTokenizer.load({
          tokenizerPath,
          modelDir,
          maxLength,
          charCap: Number.POSITIVE_INFINITY,
          cutWords: false,
        });
        assert.ok(assembled.assemblesPairs && uncut.assemblesPairs, 'the BERT template must take the assembled path');

        const budget = maxLength - 3;
        const seen = new Map<string, number>();
        const counts = new Map(await Promise.all(WORDS.map(async (w) => [w, await count(w)] as const)));
        for (const { query, docs } of generate(maxLength, maxLength * 7 + model.length, counts)) {
          const q = await count(query);
          const prepared = await assembled.prepareQuery(query);
          assert.equal(prepared.tokens !== undefined, q <= budget, 'assembled exactly when the query fits the budget');
          const ours = await assembled.encodeDocs(prepared, docs);
          const oursUncut = await uncut.encodePairs(query, docs);
          for (const [i, doc] of docs.entries()) {
            const expected = await reference.encode(query, doc);
            const where = `query ${JSON.stringify(query.slice(0, 60))} (${q} tokens), doc ${i}`;
            for (const got of [ours[i], oursUncut[i]]) {
              assert.deepEqual(got?.ids, expected.getIds(), where);
              assert.deepEqual(got?.typeIds, expected.getTypeIds(), where);
            }
            const name = branch(q, await count(doc), budget);
            seen.set(name, (seen.get(name) ?? 0) + 1);
          }
        }
        // The generated pairs must reach every branch, or this test would prove less than it claims.
        for (const name of ['fits', 'doc cut', 'query cut', 'both cut', 'both cut, equal', 'empty query', 'empty doc', 'long query, short doc', 'both over budget']) {
          assert.ok((seen.get(name) ?? 0) > 0, `no pair took branch "${name}": ${JSON.stringify([...seen])}`);
        }
      });
    }
  }

  it('matches truncation.rs on its own examples (max_length 7)', () => {
    const cases: Array<[number, number, number, number]> = [
      [0, 8, 0, 7], [2, 8, 2, 5], [4, 0, 4, 0], [4, 4, 3, 4], [4, 8, 3, 4],
      [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4], [2, 4, 2, 4],
    ];
    for (const [n1, n2, k1, k2] of cases) assert.deepEqual(longestFirst(n1, n2, 7), [k1, k2], `${n1}, ${n2}`);
  });

  it('falls back to encode(query, doc) when the pair template is not BERT\'s', async () => {
    const modelDir = await ensureTestModel('tiny');
    const json = JSON.parse(await readFile(path.join(modelDir, 'tokenizer.json'), 'utf8')) as {
      post_processor: { pair: Array<{ Sequence?: { type_id: number }; SpecialToken?: { type_id: number } }> };
    };
    for (const piece of json.post_processor.pair) {
      const part = piece.Sequence ?? piece.SpecialToken;
      if (part) part.type_id = 0; // one segment id for both texts, as RoBERTa-style models have
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'tokenizer-'));
    try {
      const tokenizerPath = path.join(dir, 'tokenizer.json');
      await writeFile(tokenizerPath, JSON.stringify(json));
      const tokenizer = await PairTokenizer.load({ tokenizerPath, modelDir: dir, maxLength: 16 });
      assert.equal(tokenizer.assemblesPairs, false);
      const reference = Tokenizer.fromFile(tokenizerPath);
      reference.setTruncation(16);
      const docs = ['short', 'tide '.repeat(40), ''];
      const pairs = await tokenizer.encodePairs('how do tides work', docs);
      for (const [i, doc] of docs.entries()) {
        const expected = await reference.encode('how do tides work', doc);
        assert.deepEqual(pairs[i]?.ids, expected.getIds());
        assert.deepEqual(pairs[i]?.typeIds, expected.getTypeIds());
        assert.ok(pairs[i]?.typeIds.every((t) => t === 0));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
