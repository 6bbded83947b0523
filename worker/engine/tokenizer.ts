/**
 * (query, doc) pairs -> token ids and type ids, `[CLS] query [SEP] doc [SEP]`, truncated longest-first to
 * maxLength special tokens included (the Python `truncation=True` behaviour). Padding is left to the batcher,
 * which pads each inference batch only to its own longest row.
 */
import { Tokenizer } from 'tokenizers';
import { modelFixHint } from './model-dir.ts';
import { EngineError } from './types.ts';

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
}

/**
 * English WordPiece averages ~4-5 characters per token (whitespace included); 32 leaves a wide margin so a cut
 * text still yields more than maxLength tokens, which makes the cut invisible after truncation. The floor keeps
 * the cut far above WordPiece's 100-character word limit, where cutting a word would change its tokens.
 */
const CHARS_PER_TOKEN_CAP = 32;
const MIN_CHAR_CAP = 1024;
/** How far back from the cap to look for whitespace, so the cut does not split a word. */
const WHITESPACE_WINDOW = 128;

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
    if (/\s/.test(text[i] ?? '')) return text.slice(0, i);
  }
  const code = text.charCodeAt(cap - 1);
  const splitsSurrogate = code >= 0xd800 && code <= 0xdbff;
  return text.slice(0, splitsSurrogate ? cap - 1 : cap);
}

export class PairTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  readonly vocabSize: number;
  private readonly charCap: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    options: PairTokenizerOptions,
  ) {
    this.maxLength = options.maxLength;
    this.charCap = options.charCap ?? charCapFor(options.maxLength);
    this.padId = tokenizer.tokenToId(options.padToken ?? '[PAD]') ?? 0;
    this.vocabSize = tokenizer.getVocabSize(true);
  }

  static load(options: PairTokenizerOptions): PairTokenizer {
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
    return new PairTokenizer(tokenizer, options);
  }

  /**
   * Encodes (query, doc) for every doc. The calls run on libuv's thread pool, all in flight at once, so a caller
   * may run inference meanwhile.
   */
  async encodePairs(query: string, docs: readonly string[]): Promise<EncodedPair[]> {
    const cutQuery = capChars(query, this.charCap);
    const encodings = await Promise.all(docs.map((doc) => this.tokenizer.encode(cutQuery, capChars(doc, this.charCap))));
    return encodings.map((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() }));
  }
}
