/**
 * A pure-TypeScript BERT WordPiece tokenizer, exact against the tokenizers binding (0.23.2) for the one shape
 * it accepts: BertNormalizer + BertPreTokenizer + WordPiece, special added tokens matched in the raw text.
 * It runs on the calling thread and stops once it has the tokens a caller can use, so its cost is bounded by
 * the tokens kept, not by the text's length. Texts with characters it does not handle exactly (see
 * wordpiece-chars.ts) are declined (undefined), and the caller gives them to the binding. The differential test
 * (test/unit/engine-wordpiece.test.ts) and a load-time self-check (checkAgainst) hold the two to the same ids.
 */
import type { Tokenizer } from 'tokenizers';
import { classifyChar, Kind, type CharInfo, type NormalizerConfig } from './wordpiece-chars.ts';

/** The load-time self-check's texts: a varied sample the fast path must tokenize as the binding does. */
const SAMPLE = [
  'what causes the tides in the ocean',
  'Tides are the rise and fall of sea levels, caused by the Moon (and the Sun)!',
  'Café Müller, naïve façade, São Paulo, Ångström, İstanbul, Straße, ΣΊΣΥΦΟΣ, Ελληνικά, Москва',
  '潮汐是海水在天体引潮力作用下产生的周期性运动。 日本語のテキスト、한국어 문장',
  'emoji 👍🏽 👨‍👩‍👧 🇫🇷 ★ ♥ ✓ and symbols $100 + 5% = ~x^2 | a<b> `code` @user #tag',
  'punctuation… “quoted” — dash – ‘single’ «guillemets» ¿qué? ¡sí! 1,234.56',
  'pseudopseudohypoparathyroidism ' + 'x'.repeat(120) + ' antidisestablishmentarianism',
  'control\u0000chars\u0001here\ttab\nnewline\r\n\u00a0nbsp\u200bzero\u2003width\u00adsoft\ufffdrepl',
  'literal [CLS] and [SEP] and [UNK][PAD] [MASK] tokens, [sep] lowercase',
  'combining e\u0301 a\u0308 n\u0303, Hebrew שלום, Arabic مرحبا, हिन्दी, ไทย',
  'UPPER lower MiXeD 123abc abc123 a.b.c e.g. i.e. U.S.A. http://example.org/path?q=1&r=2',
];

interface AddedToken {
  content: string;
  id: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class BertWordPiece {
  private readonly ascii: CharInfo[];
  private readonly cache = new Map<number, CharInfo>();
  private readonly maxPieceLength: number;
  private readonly unkId: number;

  private constructor(
    private readonly normalizer: NormalizerConfig,
    private readonly vocab: Map<string, number>,
    unkToken: string,
    private readonly prefix: string,
    private readonly maxInputChars: number,
    private readonly added: readonly AddedToken[],
  ) {
    this.unkId = vocab.get(unkToken) as number;
    let longest = 0;
    for (const key of vocab.keys()) longest = Math.max(longest, key.length);
    this.maxPieceLength = longest;
    this.ascii = Array.from({ length: 128 }, (_, cp) => classifyChar(cp, this.normalizer));
  }

  /** The fast tokenizer when tokenizer.json has exactly the supported shape, else undefined. */
  static fromTokenizerJson(json: unknown): BertWordPiece | undefined {
    if (!isObject(json)) return undefined;
    const { normalizer: n, pre_tokenizer: pre, model: m, added_tokens: added } = json;
    if (!isObject(n) || n.type !== 'BertNormalizer') return undefined;
    if (!isObject(pre) || pre.type !== 'BertPreTokenizer' || !isObject(m) || m.type !== 'WordPiece') return undefined;
    const flags = [n.clean_text, n.handle_chinese_chars, n.lowercase];
    if (!flags.every((f) => typeof f === 'boolean')) return undefined;
    if (n.strip_accents !== null && typeof n.strip_accents !== 'boolean') return undefined;
    const { vocab, unk_token: unk, continuing_subword_prefix: prefix, max_input_chars_per_word: maxChars } = m;
    if (!isObject(vocab) || typeof unk !== 'string' || typeof prefix !== 'string') return undefined;
    if (typeof maxChars !== 'number' || !Number.isInteger(maxChars)) return undefined;
    const map = new Map<string, number>();
    for (const [token, id] of Object.entries(vocab)) {
      if (typeof id !== 'number') return undefined;
      map.set(token, id);
    }
    if (!map.has(unk)) return undefined;
    const tokens = BertWordPiece.addedTokens(added);
    if (!tokens) return undefined;
    const lowercase = n.lowercase as boolean;
    const normalizer = {
      cleanText: n.clean_text as boolean,
      chinese: n.handle_chinese_chars as boolean,
      stripAccents: (n.strip_accents as boolean | null) ?? lowercase,
      lowercase,
    };
    return new BertWordPiece(normalizer, map, unk, prefix, maxChars, tokens);
  }

  /** Added tokens matched in the raw text (normalized: false, no stripping or word rules), or undefined. */
  private static addedTokens(added: unknown): AddedToken[] | undefined {
    if (added === undefined) return [];
    if (!Array.isArray(added)) return undefined;
    const tokens: AddedToken[] = [];
    for (const t of added) {
      if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || t.content === '') return undefined;
      if (t.normalized !== false || t.single_word !== false || t.lstrip !== false || t.rstrip !== false) return undefined;
      tokens.push({ content: t.content, id: t.id });
    }
    return tokens;
  }

  /**
   * The ids of `text` without special tokens, at most `maxTokens` of them (the first ones: the tokenizer would
   * produce exactly these before truncation), or undefined when the text has characters only the binding
   * handles exactly.
   */
  encode(text: string, maxTokens: number): number[] | undefined {
    const ids: number[] = [];
    let from = 0;
    while (from < text.length && ids.length < maxTokens) {
      const match = this.nextAdded(text, from);
      const end = match ? match.at : text.length;
      if (!this.encodeSegment(text, from, end, ids, maxTokens)) return undefined;
      if (!match || ids.length >= maxTokens) break;
      ids.push(match.token.id);
      from = match.at + match.token.content.length;
    }
    if (ids.length > maxTokens) ids.length = maxTokens;
    return ids;
  }

  /**
   * The first SAMPLE text whose ids differ from the binding's, or undefined when all agree (texts this declines
   * are skipped). A tokenizer.json of the supported shape with an unforeseen detail then costs speed, not ids.
   */
  async checkAgainst(tokenizer: Tokenizer, maxLength: number): Promise<string | undefined> {
    // maxLength bounds both: the binding truncates single sequences to it too.
    const reference = await tokenizer.encodeBatch(SAMPLE, { addSpecialTokens: false });
    for (const [i, text] of SAMPLE.entries()) {
      const ids = this.encode(text, maxLength);
      const expected = reference[i]?.getIds() ?? [];
      if (ids && (ids.length !== expected.length || ids.some((id, k) => id !== expected[k]))) return text;
    }
    return undefined;
  }

  /** The leftmost added token at or after `from`, the longest one at that position. */
  private nextAdded(text: string, from: number): { at: number; token: AddedToken } | undefined {
    let best: { at: number; token: AddedToken } | undefined;
    for (const token of this.added) {
      const at = text.indexOf(token.content, from);
      if (at < 0) continue;
      if (!best || at < best.at || (at === best.at && token.content.length > best.token.content.length)) {
        best = { at, token };
      }
    }
    return best;
  }

  /** Normalizes, pre-tokenizes and word-pieces text[from, to) into ids; false on an unsafe character. */
  private encodeSegment(text: string, from: number, to: number, ids: number[], maxTokens: number): boolean {
    const lower = this.normalizer.lowercase;
    let word = '';
    let runStart = -1; // start of the current run of ASCII word characters
    const flushRun = (i: number) => {
      if (runStart < 0) return;
      const run = text.slice(runStart, i);
      word += lower ? run.toLowerCase() : run;
      runStart = -1;
    };
    const endWord = () => {
      if (word !== '') this.wordPiece(word, ids);
      word = '';
    };
    for (let i = from; i < to; i++) {
      const code = text.charCodeAt(i);
      let info: CharInfo;
      if (code < 128) {
        info = this.ascii[code] as CharInfo;
        if (info.kind === Kind.Word) {
          if (runStart < 0) runStart = i;
          continue;
        }
      } else {
        const cp = text.codePointAt(i) as number;
        if (cp > 0xffff) i++;
        info = this.info(cp);
      }
      flushRun(i);
      switch (info.kind) {
        case Kind.Drop:
          break;
        case Kind.Space:
          endWord();
          if (ids.length >= maxTokens) return true;
          break;
        case Kind.Alone:
          endWord();
          this.wordPiece(info.text, ids);
          if (ids.length >= maxTokens) return true;
          break;
        case Kind.Word:
          word += info.text;
          break;
        case Kind.Unsafe:
          return false;
      }
    }
    flushRun(to);
    endWord();
    return true;
  }

  private info(cp: number): CharInfo {
    let info = this.cache.get(cp);
    if (!info) {
      info = classifyChar(cp, this.normalizer);
      this.cache.set(cp, info);
    }
    return info;
  }

  /** WordPiece (models/wordpiece/mod.rs): greedy longest match first, the whole word [UNK] when a piece fails. */
  private wordPiece(word: string, ids: number[]): void {
    if (word.length > this.maxInputChars && codePointLength(word) > this.maxInputChars) {
      ids.push(this.unkId);
      return;
    }
    const whole = this.vocab.get(word);
    if (whole !== undefined) {
      ids.push(whole);
      return;
    }
    const mark = ids.length;
    let start = 0;
    while (start < word.length) {
      const prefix = start > 0 ? this.prefix : '';
      let end = Math.min(word.length, start + this.maxPieceLength);
      let id: number | undefined;
      for (; end > start; end--) {
        id = this.vocab.get(prefix + word.slice(start, end));
        if (id !== undefined) break;
      }
      if (id === undefined) {
        ids.length = mark;
        ids.push(this.unkId);
        return;
      }
      ids.push(id);
      start = end;
    }
  }
}

function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}
