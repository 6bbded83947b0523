/**
 * WordPiece vocabularies: read from a BERT vocab.txt, or generated deterministically when the real one is not
 * at hand. A generated vocabulary keeps BERT's special-token ids, so code that hard-codes [CLS]=101 behaves alike.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BERT_VOCAB_PATH, bertVocabPath } from '../lib/bert-vocab.ts';

/** BERT's special tokens, by the id they have in bert-base-uncased. */
export const SPECIAL_TOKEN_IDS = { '[PAD]': 0, '[UNK]': 100, '[CLS]': 101, '[SEP]': 102, '[MASK]': 103 } as const;
export type SpecialToken = keyof typeof SPECIAL_TOKEN_IDS;
export const SPECIAL_TOKENS = Object.keys(SPECIAL_TOKEN_IDS) as SpecialToken[];

const SUBWORD_PREFIX = '##';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
/** Every ASCII character BERT's pre-tokenizer splits off as punctuation. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** Frequent English words, so generated-vocabulary tokenization of ordinary text is not all single letters. */
const COMMON_WORDS = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no what can more will other who its into ' +
  'about than them some could time only may these two new first any also like after how our most made over such ' +
  'where many before through then because between both under while during those each people use used year years ' +
  'work world state city school system data model query document search rank score text language learning python ' +
  'created founded company university government music film game water food health money history science ' +
  'question answer information example number part place name day way life group high long small large good ' +
  'best find help make get see know take give come think look want does did do said says say why'
).split(' ');

/** Frequent continuation pieces (English suffixes and word endings). */
const COMMON_SUFFIXES = (
  's es ed ing er ers ly ion ions tion ation al ic ical ity ment ness less ful able ible ous ive ize ise est ' +
  'en an on in ia ian ism ist ists ure age ance ence ant ent ship hood ward wards like y ie ey ies ry ory'
).split(' ');

/** `[unused<n>]` placeholders fill ids 1..99 as in BERT, keeping [UNK]..[MASK] at 100..103. */
function specialBlock(): string[] {
  const block: string[] = ['[PAD]'];
  for (let n = 0; block.length < SPECIAL_TOKEN_IDS['[UNK]']; n++) block.push(`[unused${n}]`);
  block.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
  return block;
}

/** Letter n-grams, whole-word and continuation forms, in a fixed order: filler that still tokenizes text. */
function* letterNgrams(): Generator<string> {
  for (const length of [2, 3, 4]) {
    const grams: string[] = [];
    const build = (prefix: string): void => {
      if (prefix.length === length) {
        grams.push(prefix);
        return;
      }
      for (const letter of LETTERS) build(prefix + letter);
    };
    build('');
    for (const gram of grams) {
      yield gram;
      yield SUBWORD_PREFIX + gram;
    }
  }
}

/**
 * A vocabulary of exactly `size` tokens: BERT's special-token block, single characters and their `##` forms,
 * common words and suffixes, then letter n-grams as filler.
 */
export function generateVocab(size: number): string[] {
  const singles = [...PUNCTUATION, ...DIGITS, ...LETTERS];
  const candidates = [
    ...singles,
    ...singles.map((char) => SUBWORD_PREFIX + char),
    ...COMMON_WORDS,
    ...COMMON_SUFFIXES.map((suffix) => SUBWORD_PREFIX + suffix),
  ];
  const vocab = specialBlock();
  const seen = new Set(vocab);
  const add = (token: string): boolean => {
    if (!seen.has(token)) {
      seen.add(token);
      vocab.push(token);
    }
    return vocab.length >= size;
  };
  if (size <= vocab.length + singles.length * 2) {
    throw new RangeError(`a generated vocabulary needs more than ${vocab.length + singles.length * 2} tokens`);
  }
  for (const token of candidates) if (add(token)) return vocab;
  for (const token of letterNgrams()) if (add(token)) return vocab;
  throw new RangeError(`cannot generate a vocabulary of ${size} tokens`);
}

/** Reads a vocab.txt (one token per line, id = line number) and checks it can back a BERT tokenizer. */
export function readVocabFile(path: string): string[] {
  // The bundled copy is checked against its known checksum before it is trusted.
  if (resolve(path) === BERT_VOCAB_PATH) bertVocabPath();
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop(); // the newline ending the last line does not start another token
  const seen = new Set<string>();
  for (const token of lines) {
    if (seen.has(token)) throw new Error(`${path}: token ${JSON.stringify(token)} appears twice`);
    seen.add(token);
  }
  for (const special of SPECIAL_TOKENS) {
    if (!seen.has(special)) throw new Error(`${path}: special token ${special} is missing`);
  }
  return lines;
}
