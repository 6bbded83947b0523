/**
 * One code point through BertNormalizer (normalizers/bert.rs), as BertPreTokenizer then sees it, for
 * wordpiece.ts. The binding's Unicode tables (unicode_categories for control, punctuation and nonspacing marks;
 * its own NFD) are older than V8's, so JS properties agree with them only on characters assigned long ago:
 * code points outside SAFE_RANGES, unassigned ones and marks NFD could reorder are Unsafe, and the caller
 * leaves texts holding them to the binding. Checked against the binding for every code point (in three
 * contexts) when SAFE_RANGES was drawn, and by test/unit/engine-wordpiece.test.ts.
 */

/** Rust `char::is_whitespace` (Unicode White_Space), which BertNormalizer and BertPreTokenizer both use. */
const WHITE_SPACE = /^\p{White_Space}$/u;
/** unicode_categories `is_other`: Cc, Cf, Co, Cn (Cs cannot occur in a Rust string). */
const OTHER = /^[\p{Cc}\p{Cf}\p{Co}\p{Cn}]$/u;
/** `is_ascii_punctuation || is_punctuation` (Pc Pd Ps Pe Pi Pf Po); ASCII symbols come from the first. */
const PUNCTUATION = /^\p{P}$/u;
const UNASSIGNED = /^\p{Cn}$/u;
const NONSPACING_MARK = /^\p{Mn}$/u;
/** Marks other than Mn may carry a combining class; NFD could reorder them across characters. */
const OTHER_MARK = /^[\p{Mc}\p{Me}]$/u;

/**
 * Non-ASCII code points whose Unicode properties have not changed between the binding's tables and V8's
 * (found by comparing every code point, see the test); anything else goes to the binding.
 */
const SAFE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x80, 0x52f], // Latin-1, Latin Extended-A/B, IPA, modifiers, combining diacritics, Greek, Cyrillic
  [0x590, 0x5ff], // Hebrew
  [0x600, 0x61c], // Arabic (U+061D is newer than the binding's tables)
  [0x61e, 0x6ff],
  [0x900, 0x97f], // Devanagari
  [0xe00, 0xe7f], // Thai
  [0x1100, 0x11ff], // Hangul Jamo
  [0x1e00, 0x1fff], // Latin Extended Additional, Greek Extended
  [0x2000, 0x206f], // General Punctuation
  [0x20a0, 0x20bf], // Currency Symbols
  [0x2070, 0x209f], // Superscripts and Subscripts
  [0x2100, 0x214f], // Letterlike Symbols
  [0x2190, 0x22ff], // Arrows, Mathematical Operators
  [0x3000, 0x303f], // CJK Symbols and Punctuation
  [0x3040, 0x30ff], // Hiragana, Katakana
  [0x3400, 0x4dbf], // CJK Extension A
  [0x4e00, 0x9fff], // CJK Unified Ideographs
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK Compatibility Ideographs
  [0xff00, 0xffef], // Halfwidth and Fullwidth Forms
];

/** The CJK ranges BertNormalizer pads with spaces (normalizers/bert.rs `is_chinese_char`). */
function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export interface NormalizerConfig {
  cleanText: boolean;
  chinese: boolean;
  stripAccents: boolean;
  lowercase: boolean;
}

/** What a code point becomes after normalization, as pre-tokenizer units. */
export enum Kind {
  /** Removed (clean_text) or nothing left after stripping accents. */
  Drop,
  Space,
  /** A punctuation or CJK character: a word on its own. */
  Alone,
  /** Part of a word; `text` is what it adds. */
  Word,
  /** Not handled exactly: the caller falls back to the binding. */
  Unsafe,
}

export interface CharInfo {
  kind: Kind;
  text: string;
}

/** One code point through BertNormalizer, then as the BertPreTokenizer sees it. */
export function classifyChar(cp: number, normalizer: NormalizerConfig): CharInfo {
  const { cleanText, chinese, stripAccents, lowercase } = normalizer;
  if (cp >= 128 && !SAFE_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi)) return { kind: Kind.Unsafe, text: '' };
  if (cp >= 0xd800 && cp <= 0xdfff) return { kind: Kind.Unsafe, text: '' }; // lone surrogate
  const ch = String.fromCodePoint(cp);
  // Unassigned in V8's tables: the binding's may differ (its clean_text keeps some of them).
  if (OTHER_MARK.test(ch) || UNASSIGNED.test(ch)) return { kind: Kind.Unsafe, text: '' };
  const space = cp === 9 || cp === 10 || cp === 13 || WHITE_SPACE.test(ch);
  if (cleanText) {
    if (cp === 0 || cp === 0xfffd || (cp !== 9 && cp !== 10 && cp !== 13 && OTHER.test(ch))) {
      return { kind: Kind.Drop, text: '' };
    }
    if (space) return { kind: Kind.Space, text: ' ' };
  }
  if (chinese && isChinese(cp)) {
    // Padded with spaces, the character is a word of its own; NFD and lowercasing still apply to it.
    const text = normalizeChars(ch, stripAccents, lowercase);
    return text === '' ? { kind: Kind.Drop, text } : { kind: Kind.Alone, text };
  }
  const text = normalizeChars(ch, stripAccents, lowercase);
  if (text === '') return { kind: Kind.Drop, text };
  const chars = [...text];
  if (chars.length === 1) {
    if (WHITE_SPACE.test(text)) return { kind: Kind.Space, text: ' ' };
    if (PUNCTUATION.test(text) || isAsciiPunctuation(text.charCodeAt(0))) return { kind: Kind.Alone, text };
    return { kind: Kind.Word, text };
  }
  // Several characters: handled only when none of them is a separator.
  if (chars.some((c) => WHITE_SPACE.test(c) || PUNCTUATION.test(c) || isAsciiPunctuation(c.codePointAt(0) ?? 0))) {
    return { kind: Kind.Unsafe, text: '' };
  }
  return { kind: Kind.Word, text };
}

function normalizeChars(ch: string, stripAccents: boolean, lowercase: boolean): string {
  let text = ch;
  if (stripAccents) text = [...text.normalize('NFD')].filter((c) => !NONSPACING_MARK.test(c)).join('');
  // Rust lowercases char by char (no final-sigma context), as String#toLowerCase does on a single character.
  if (lowercase) text = [...text].map((c) => c.toLowerCase()).join('');
  return text;
}

function isAsciiPunctuation(cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}
