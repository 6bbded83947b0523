/**
 * Differential test of the pure-TS WordPiece (worker/engine/wordpiece.ts) against the tokenizers binding:
 * generated texts over many Unicode classes, single sequences and assembled pairs, zero mismatches allowed.
 * Texts the fast path declines (characters outside its safe ranges) must still come out exact through the
 * binding fallback, which the pair comparison covers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { PairTokenizer } from '../../worker/engine/tokenizer.ts';
import { BertWordPiece } from '../../worker/engine/wordpiece.ts';
import { ensureTestModel } from '../support/models.ts';

/** mulberry32: small, seeded, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BLOCKS: Array<[number, number]> = [
  [0x20, 0x7e], [0x00, 0x1f], [0x7f, 0xbf], [0xc0, 0x24f], [0x250, 0x2ff], [0x300, 0x36f], [0x370, 0x3ff],
  [0x400, 0x52f], [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff],
  [0x1e00, 0x1fff], [0x2000, 0x206f], [0x2070, 0x20cf], [0x2100, 0x22ff], [0x2300, 0x2bff], [0x3000, 0x30ff],
  [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xd800, 0xdfff], [0xf900, 0xfaff], [0xfe00, 0xfe0f],
  [0xff00, 0xffef], [0xfff0, 0xffff], [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0x2f800, 0x2fa1f], [0xe0000, 0xe007f],
];
const SPECIAL = ['[CLS]', '[SEP]', '[UNK]', '[PAD]', '[MASK]', '[sep]', '[SEP', 'SEP]', '[[SEP]]'];
const EXTRAS = ['İ', 'ß', 'ẞ', 'Σ', 'ς', 'ﬁ', 'Ǆ', '\u00a0', '\u200b', '\u200d', '\ufeff', '\ufffd', '\u00ad', '\u3000',
  '👨\u200d👩\u200d👧', '👍🏽', '🇫🇷', 'e\u0301', '\u0085', '\u2028', '\t', '\n', '\r\n', '\u000b', '\u0000'];

/** Blocks the fast path handles itself (no fallback), for texts that must be compared rather than declined. */
const TAME = (b: [number, number]) => b[1] < 0x2300 || (b[0] >= 0x3000 && b[1] <= 0x9fff) || (b[0] >= 0xac00 && b[1] <= 0xd7a3);

/** `wild` texts draw from every block (most then go to the binding); tame ones from the fast path's. */
function generator(vocab: string[], seed: number, wild = true): () => string {
  const rnd = prng(seed);
  const blocks = wild ? BLOCKS : BLOCKS.filter(TAME);
  const extras = wild ? EXTRAS : EXTRAS.filter((e) => !/\p{Extended_Pictographic}|\p{Regional_Indicator}|\ufeff/u.test(e));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const randomChar = () => {
    const [lo, hi] = pick(blocks);
    return String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
  };
  const word = (): string => {
    const r = rnd();
    if (r < 0.4) {
      const w = pick(vocab).replace(/^##/, '');
      return rnd() < 0.2 ? w.toUpperCase() : rnd() < 0.3 ? w[0]?.toUpperCase() + w.slice(1) : w;
    }
    if (r < 0.65) return Array.from({ length: 1 + Math.floor(rnd() * 6) }, randomChar).join('');
    if (r < 0.75) return pick(SPECIAL);
    if (r < 0.85) return pick(extras);
    if (r < 0.9) return Array.from({ length: 95 + Math.floor(rnd() * 20) }, () => pick(vocab).slice(0, 3)).join('').slice(0, 95 + Math.floor(rnd() * 20));
    return pick(vocab) + pick(vocab).replace(/^##/, '') + pick(['', '.', ',', '!', "'s", '-', '']);
  };
  return () => {
    const n = Math.floor(rnd() * 14);
    let text = '';
    for (let i = 0; i < n; i++) text += word() + (rnd() < 0.8 ? ' ' : rnd() < 0.5 ? '' : pick(extras));
    return text;
  };
}

/** BertNormalizer settings of other BERT checkpoints (cased, accent-keeping), tried on the real vocabulary. */
const VARIANTS = [
  { name: 'cased', normalizer: { lowercase: false, strip_accents: null } },
  { name: 'uncased, accents kept', normalizer: { lowercase: true, strip_accents: false } },
  { name: 'cased, accents stripped', normalizer: { lowercase: false, strip_accents: true } },
  { name: 'no clean_text, no CJK padding', normalizer: { clean_text: false, handle_chinese_chars: false } },
];

interface Case {
  name: string;
  dir: string;
  tokenizerPath: string;
}

async function cases(scratch: string): Promise<Case[]> {
  const real = await ensureTestModel('tinybert', { realVocab: true });
  const generated = await ensureTestModel('tinybert');
  const base = path.join(real, 'tokenizer.json');
  const json = JSON.parse(await readFile(base, 'utf8')) as { normalizer: Record<string, unknown> };
  const variants = await Promise.all(
    VARIANTS.map(async ({ name, normalizer }, i) => {
      const tokenizerPath = path.join(scratch, `variant-${i}.json`);
      await writeFile(tokenizerPath, JSON.stringify({ ...json, normalizer: { ...json.normalizer, ...normalizer } }));
      return { name: `real vocab, ${name}`, dir: real, tokenizerPath };
    }),
  );
  return [
    { name: 'real vocab', dir: real, tokenizerPath: base },
    { name: 'generated vocab', dir: generated, tokenizerPath: path.join(generated, 'tokenizer.json') },
    ...variants,
  ];
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('pure-TS WordPiece vs the tokenizers binding', async () => {
  const scratch = await mkdtemp(path.join(tmpdir(), 'wordpiece-'));
  after(() => rm(scratch, { recursive: true, force: true }));
  for (const { name, dir, tokenizerPath } of await cases(scratch)) {
    const json = JSON.parse(await readFile(tokenizerPath, 'utf8')) as { model: { vocab: Record<string, number> } };
    const vocab = Object.keys(json.model.vocab);

    it(`${name}: 48,000 generated texts give the binding's ids (or are declined)`, async () => {
      const fast = BertWordPiece.fromTokenizerJson(json);
      assert.ok(fast, 'tokenizer.json is plain BERT WordPiece');
      const binding = Tokenizer.fromFile(tokenizerPath);
      const [tame, wild] = [generator(vocab, 7, false), generator(vocab, 8)];
      const texts = Array.from({ length: 48_000 }, (_, i) => (i % 4 === 0 ? wild() : tame()));
      let declined = 0;
      const mismatches: string[] = [];
      for (let i = 0; i < texts.length; i += 2000) {
        const batch = texts.slice(i, i + 2000);
        const encodings = await binding.encodeBatch(batch, { addSpecialTokens: false });
        batch.forEach((text, k) => {
          const expected = encodings[k]?.getIds() ?? [];
          const full = fast.encode(text, 1_000_000);
          if (full === undefined) return void declined++;
          if (!same(full, expected)) mismatches.push(text);
          // Early stop keeps the first tokens.
          const cut = Math.floor(expected.length / 2);
          if (!same(fast.encode(text, cut) ?? [], expected.slice(0, cut))) mismatches.push(`cut ${cut}: ${text}`);
        });
      }
      assert.deepEqual(mismatches.slice(0, 5), []);
      assert.ok(texts.length - declined >= 20_000, `compared only ${texts.length - declined} of ${texts.length}`);
    });

    for (const maxLength of [32, 64, 128]) {
      it(`${name}: assembled pairs at maxLength ${maxLength} equal encode(query, doc)`, async () => {
        const fastPairs = await PairTokenizer.load({ tokenizerPath, modelDir: dir, maxLength });
        assert.ok(fastPairs.usesFastPath);
        const reference = Tokenizer.fromFile(tokenizerPath);
        reference.setTruncation(maxLength);
        const next = generator(vocab, 1000 + maxLength);
        const longText = () => Array.from({ length: 1 + Math.floor(maxLength / 4) }, next).join(' ');
        for (let call = 0; call < 40; call++) {
          const query = call % 5 === 0 ? longText() : next();
          const docs = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? longText() : next()));
          const pairs = await fastPairs.encodePairs(query, docs);
          const expected = await Promise.all(docs.map((doc) => reference.encode(query, doc)));
          pairs.forEach((p, i) => {
            const e = expected[i];
            assert.ok(e);
            assert.deepEqual(p.ids, e.getIds(), `ids of pair ${call}/${i}`);
            assert.deepEqual(p.typeIds, e.getTypeIds(), `type ids of pair ${call}/${i}`);
          });
        }
      });
    }
  }

  it('declines tokenizer.json shapes it does not implement', () => {
    const base = {
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      model: { type: 'WordPiece', vocab: { '[UNK]': 0, a: 1 }, unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 },
      added_tokens: [],
    };
    assert.ok(BertWordPiece.fromTokenizerJson(base));
    assert.equal(BertWordPiece.fromTokenizerJson({ ...base, normalizer: { type: 'NFKC' } }), undefined);
    assert.equal(BertWordPiece.fromTokenizerJson({ ...base, pre_tokenizer: { type: 'Whitespace' } }), undefined);
    assert.equal(BertWordPiece.fromTokenizerJson({ ...base, model: { ...base.model, type: 'BPE' } }), undefined);
    const stripped = [{ id: 0, content: '[UNK]', single_word: false, lstrip: true, rstrip: false, normalized: false }];
    assert.equal(BertWordPiece.fromTokenizerJson({ ...base, added_tokens: stripped }), undefined);
  });
});
