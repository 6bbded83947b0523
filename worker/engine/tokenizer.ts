/**
 * (query, doc) pairs -> token ids and type ids, `[CLS] query [SEP] doc [SEP]`, truncated longest-first to
 * maxLength special tokens included (the Python `truncation=True` behaviour). Padding is left to the batcher,
 * which pads each inference batch only to its own longest row.
 *
 * With a BERT pair template the query is tokenized once per call and the documents once per chunk with one
 * `encodeBatch`, and the pairs are assembled in JS (pair-layout.ts): ~35-40 % less tokenizer CPU than one
 * `encode(query, doc)` per pair (BENCHMARKS.md), with the same ids. Otherwise pairs are encoded one by one.
 *
 * When tokenizer.json is plain BERT WordPiece, the query and documents are tokenized on this thread by
 * wordpiece.ts instead, which stops after the tokens a pair can keep (~7-17 instead of ~80-150 us of CPU per pair, BENCHMARKS.md); texts with
 * characters it does not handle exactly, and every text when its load-time self-check fails, go to the binding.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from 'tokenizers';
import { modelFixHint } from './model-dir.ts';
import { assemble, BERT_PAIR_SPECIALS, detectBertTemplate, longestFirst, type BertPairTemplate } from './pair-layout.ts';
import { EngineError } from './types.ts';
import { BertWordPiece } from './wordpiece.ts';

/** One tokenized pair, unpadded; its attention mask is all ones. */
export interface EncodedPair {
  ids: number[];
  typeIds: number[];
}

export interface PairTokenizerOptions {
  tokenizerPath: string;
  /** For the error message's fix hint. */
  modelDir: string;
  /** Max tokens per pair including specials, already capped by the model's limit. */
  maxLength: number;
  /** Pad token name from tokenizer_config.json; '[PAD]' (BERT) when absent. */
  padToken?: string;
  /** Characters kept per query/document before tokenization; default charCapFor(maxLength). */
  charCap?: number;
  /** Also cut each document after as many words as can matter, when that is provably invisible; default true. */
  cutWords?: boolean;
  /**
   * Tokenize documents alone and assemble pairs in JS when the template is BERT's; default true. False encodes
   * every pair with `encode(query, doc)`, the reference the assembled pairs equal (tests, benchmark).
   */
  assemblePairs?: boolean;
  /** Tokenize with the pure-TS WordPiece when tokenizer.json allows it (and pairs are assembled); default true. */
  fastPath?: boolean;
}

/** A query made ready once per score() call, then shared by every chunk of its documents. */
export interface PreparedQuery {
  /** The query cut to the character cap. */
  text: string;
  /** Its tokens without specials when pairs are assembled in JS, else undefined (pairs encoded one by one). */
  tokens: number[] | undefined;
  /** Visible words kept per document, undefined when cutting by words is unsafe. */
  wordCap: number | undefined;
}

/*
 * Why cut text before tokenizing: the tokenizer's cost grows with the characters it reads (~0.2 us per char
 * here, BENCHMARKS.md), but truncation keeps at most maxLength tokens, so everything past them is wasted work.
 * The word cut never changes the token ids. The character cut bounds cost first: it changes them only for a
 * text whose first maxLength tokens need more characters than the cap, which takes garbage such as ~1,000+
 * characters of whitespace or invisible characters, or words over 100 characters (one [UNK] token each).
 */

/**
 * English WordPiece averages ~4-5 characters per token (whitespace included); 32 leaves a wide margin so a cut
 * text still yields more than maxLength tokens, which makes the cut invisible after truncation. The floor keeps
 * the cut far above WordPiece's 100-character word limit, where cutting a word would change its tokens.
 */
const CHARS_PER_TOKEN_CAP = 32;
const MIN_CHAR_CAP = 1024;
/** How far back from the cap to look for whitespace, so the cut does not split a word. */
const WHITESPACE_WINDOW = 128;
/** The tokenizer's notion of whitespace (Rust char::is_whitespace = Unicode White_Space). */
const WHITESPACE = /\p{White_Space}/u;
/** A whitespace-separated chunk with a letter, digit, punctuation or symbol yields at least one token. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

export function charCapFor(maxLength: number): number {
  return Math.max(MIN_CHAR_CAP, maxLength * CHARS_PER_TOKEN_CAP);
}

/**
 * Cuts text to at most `cap` UTF-16 units, at the last whitespace in the final WHITESPACE_WINDOW units when
 * there is one, else hard (never inside a surrogate pair). Bounds tokenization cost: a 10 MB document costs
 * what a short one does.
 */
export function capChars(text: string, cap: number): string {
  if (text.length <= cap) return text;
  for (let i = cap; i >= Math.max(1, cap - WHITESPACE_WINDOW); i--) {
    if (WHITESPACE.test(text[i] ?? '')) return text.slice(0, i);
  }
  const code = text.charCodeAt(cap - 1);
  const splitsSurrogate = code >= 0xd800 && code <= 0xdbff;
  return text.slice(0, splitsSurrogate ? cap - 1 : cap);
}

/**
 * Cuts text right after its `words`-th visible word. Each such word yields at least one token (normalization
 * only drops control/format characters and accents; BERT tokenizes word by word), so the cut text still has
 * at least `words` tokens and the tokens of the words kept are unchanged. A hand-written scan with an ASCII
 * fast path: it runs on the main thread for every document, and a Unicode regex over the text cost ~13 us.
 */
export function capWords(text: string, words: number): string {
  let counted = 0;
  let inWord = false;
  let visible = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const space = code < 128 ? code === 32 || (code >= 9 && code <= 13) : WHITESPACE.test(text[i] as string);
    if (space) {
      if (inWord && visible && ++counted === words) return text.slice(0, i);
      inWord = false;
      visible = false;
    } else {
      inWord = true;
      // Lone surrogates fail the test; the full code point is tested at its first half.
      visible ||= code < 128 ? code > 32 && code < 127 : VISIBLE.test(String.fromCodePoint(text.codePointAt(i) ?? code));
    }
  }
  return text;
}

export class PairTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  readonly vocabSize: number;
  private readonly charCap: number;
  private readonly cutWords: boolean;
  /** Why the pure-TS fast path was turned off after failing its self-check, else undefined. */
  readonly fastPathWarning: string | undefined;
  private readonly fast: BertWordPiece | undefined;

  private constructor(
    /**
     * Truncates to maxLength, pairs (the reference path) and single sequences alike: a single sequence keeps
     * at least maxLength - 2 >= budget tokens, all that an assembled pair can use (see prepareQuery).
     */
    private readonly tokenizer: Tokenizer,
    /** Special tokens the post-processor adds to one sequence and to a pair ([CLS] [SEP] / + [SEP] for BERT). */
    private readonly specials: { single: number; pair: number },
    /** The pair template, when it is BERT's and pairs are assembled in JS. */
    private readonly template: BertPairTemplate | undefined,
    fast: { tokenizer: BertWordPiece | undefined; warning: string | undefined },
    options: PairTokenizerOptions,
  ) {
    this.fast = fast.tokenizer;
    this.fastPathWarning = fast.warning;
    this.maxLength = options.maxLength;
    this.charCap = options.charCap ?? charCapFor(options.maxLength);
    this.cutWords = options.cutWords ?? true;
    this.padId = tokenizer.tokenToId(options.padToken ?? '[PAD]') ?? 0;
    this.vocabSize = tokenizer.getVocabSize(true);
  }

  static async load(options: PairTokenizerOptions): Promise<PairTokenizer> {
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromFile(options.tokenizerPath);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new EngineError(
        'MODEL_INVALID',
        `Cannot load tokenizer ${options.tokenizerPath} (${reason}). ${modelFixHint(options.modelDir)}`,
        { cause: err },
      );
    }
    tokenizer.setTruncation(options.maxLength);
    tokenizer.disablePadding();
    const specials = {
      single: (await tokenizer.encode('')).getLength(),
      pair: (await tokenizer.encode('', '')).getLength(),
    };
    const assemble = (options.assemblePairs ?? true) && specials.pair === BERT_PAIR_SPECIALS;
    const template = assemble ? await detectBertTemplate(tokenizer) : undefined;
    const wanted = template !== undefined && (options.fastPath ?? true);
    const fast = wanted ? await loadFastPath(tokenizer, options) : { tokenizer: undefined, warning: undefined };
    return new PairTokenizer(tokenizer, specials, template, fast, options);
  }

  /** Whether the pure-TS WordPiece tokenizes (the binding then only takes texts it does not handle). */
  get usesFastPath(): boolean {
    return this.fast !== undefined;
  }

  /** Whether pairs are assembled in JS (BERT template) rather than encoded one by one. */
  get assemblesPairs(): boolean {
    return this.template !== undefined;
  }

  /**
   * Document tokens one pair holds next to this query (chunking.ts): the budget less the query's tokens, but at
   * least half of it, since longest-first truncation cuts a longer query down to its half of the budget.
   */
  async windowTokens(query: string): Promise<number> {
    const budget = this.maxLength - this.specials.pair;
    const [queryTokens = 0] = await this.countTokens([capChars(query, this.charCap)]);
    return Math.max(1, budget - Math.min(queryTokens, Math.floor(budget / 2)));
  }

  /**
   * Tokens of each text without special tokens, capped at maxLength (the binding truncates to it): on the fast
   * path where it can (exact, several times cheaper), the rest with one encodeBatch of the binding.
   */
  async countTokens(texts: readonly string[]): Promise<number[]> {
    const counts = texts.map((text) => this.fast?.encode(text, this.maxLength)?.length);
    const declined = counts.flatMap((count, i) => (count === undefined ? [i] : []));
    if (declined.length > 0) {
      const encodings = await this.tokenizer.encodeBatch(declined.map((i) => texts[i] as string), {
        addSpecialTokens: false,
      });
      declined.forEach((i, k) => (counts[i] = encodings[k]?.getLength()));
    }
    return counts.map((count) => count ?? 0);
  }

  /** Encodes (query, doc) for every doc: prepareQuery, then encodeDocs. */
  async encodePairs(query: string, docs: readonly string[]): Promise<EncodedPair[]> {
    return this.encodeDocs(await this.prepareQuery(query), docs);
  }

  /**
   * Cuts and tokenizes the query once per call, and tells how many words of each document can matter.
   *
   * Pairs are assembled in JS only for a query within the budget (maxLength minus the pair's specials). Then
   * longest-first truncation keeps at most budget - q tokens of a document and depends on its length d only
   * through d >= max(q, budget - q), which a single encoding truncated to maxLength still tells exactly. When
   * both sides exceed the budget, tokenizers 0.23.2 compares lengths cut at the first word reaching maxLength
   * tokens (not documented; see pair-layout.ts), so pairs with such rare long queries are encoded whole.
   */
  async prepareQuery(query: string): Promise<PreparedQuery> {
    const text = capChars(query, this.charCap);
    const budget = this.maxLength - this.specials.pair;
    let tokens: number[] | undefined;
    let queryTokens: number;
    // Truncated to maxLength, single encodings still tell "fits" from "does not": the pair template adds more
    // special tokens than the single one.
    if (this.template) {
      // budget + 1 tokens tell "fits" from "does not" as well as the binding's maxLength do.
      const ids =
        this.fast?.encode(text, budget + 1) ??
        (await this.tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
      queryTokens = ids.length;
      tokens = ids.length <= budget ? ids : undefined;
    } else {
      queryTokens = (await this.tokenizer.encode(text)).getLength() - this.specials.single;
    }
    return { text, tokens, wordCap: this.cutWords ? docWordCap(queryTokens, budget) : undefined };
  }

  /**
   * Encodes (query, doc) for every doc: with one `encodeBatch` of the documents when pairs are assembled, else
   * one `encode` per pair, all in flight at once. Both run on libuv's thread pool, so a caller may run inference
   * meanwhile. On the pure-TS fast path (encodeDocsFast) the work is done synchronously on this thread instead.
   */
  async encodeDocs(query: PreparedQuery, docs: readonly string[]): Promise<EncodedPair[]> {
    if (this.fast && this.template && query.tokens) {
      return this.encodeDocsFast(this.fast, this.template, query.tokens, docs);
    }
    const { wordCap } = query;
    const cut = docs.map((doc) => {
      const capped = capChars(doc, this.charCap);
      return wordCap === undefined ? capped : capWords(capped, wordCap);
    });
    if (cut.length === 0) return [];
    const q = query.tokens;
    const template = this.template;
    if (template && q) {
      const budget = this.maxLength - BERT_PAIR_SPECIALS;
      const encodings = await this.tokenizer.encodeBatch(cut, { addSpecialTokens: false });
      return encodings.map((e) => {
        const d = e.getIds();
        const [keepQuery, keepDoc] = longestFirst(q.length, d.length, budget);
        return assemble(template, q, keepQuery, d, keepDoc);
      });
    }
    const encodings = await Promise.all(cut.map((doc) => this.tokenizer.encode(query.text, doc)));
    return encodings.map((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() }));
  }

  /**
   * encodeDocs on the fast path: each document tokenized here only as far as its first `budget` tokens (with
   * q <= budget, longest-first truncation depends on a longer document only through d >= budget, see
   * prepareQuery), so the word cut is not needed. Documents it declines go to the binding in one encodeBatch.
   */
  private async encodeDocsFast(
    fast: BertWordPiece,
    template: BertPairTemplate,
    q: readonly number[],
    docs: readonly string[],
  ): Promise<EncodedPair[]> {
    const budget = this.maxLength - BERT_PAIR_SPECIALS;
    const cut = docs.map((doc) => capChars(doc, this.charCap));
    const ids = cut.map((doc) => fast.encode(doc, budget));
    const declined = ids.flatMap((d, i) => (d === undefined ? [i] : []));
    if (declined.length > 0) {
      const texts = declined.map((i) => cut[i] as string);
      const encodings = await this.tokenizer.encodeBatch(texts, { addSpecialTokens: false });
      declined.forEach((i, k) => (ids[i] = encodings[k]?.getIds()));
    }
    return ids.map((d = []) => {
      const [keepQuery, keepDoc] = longestFirst(q.length, d.length, budget);
      return assemble(template, q, keepQuery, d, keepDoc);
    });
  }
}

/**
 * How many words of a document can matter next to a query of `queryTokens` tokens, or undefined when cutting by
 * words is unsafe. With q <= budget, longest-first truncation (truncation.rs) gives every document of
 * d >= max(q, budget - q) tokens the same result; a word yields at least one token, so that many words suffice.
 * For q > budget the odd token of the split goes by a length comparison that shortening the document could
 * change (the adversarial test would catch a cut that does).
 */
function docWordCap(queryTokens: number, budget: number): number | undefined {
  return queryTokens <= budget ? Math.max(queryTokens, budget - queryTokens) : undefined;
}

/** The fast path for this tokenizer.json, checked against the binding; off (with a warning) on any mismatch. */
async function loadFastPath(
  tokenizer: Tokenizer,
  options: PairTokenizerOptions,
): Promise<{ tokenizer: BertWordPiece | undefined; warning: string | undefined }> {
  const fast = BertWordPiece.fromTokenizerJson(JSON.parse(await readFile(options.tokenizerPath, 'utf8')));
  if (!fast) return { tokenizer: undefined, warning: undefined };
  const mismatch = await fast.checkAgainst(tokenizer, options.maxLength);
  if (mismatch === undefined) return { tokenizer: fast, warning: undefined };
  const warning =
    `pure-TS WordPiece disabled for ${options.tokenizerPath}: ` +
    `its ids differ from the tokenizers binding on ${JSON.stringify(mismatch)}`;
  return { tokenizer: undefined, warning };
}
