/**
 * Long documents as overlapping windows: a document with more tokens than a pair leaves it (the window) is split
 * into windows of whole words that share `overlapTokens` tokens with the previous one, each window is scored with
 * the query like any document, and the document's score is the best of its windows'. Windows are spans of the
 * document's text, so scoring a window alone gives exactly its score here (the tests check that).
 *
 * Cost stays bounded: at most `maxChunks` windows per document, so only the words those can hold are tokenized.
 */
import type { ScoreResult } from './types.ts';

export interface ChunkOptions {
  /** Tokens each window repeats from the end of the previous one (less when whole words do not fit it). */
  overlapTokens: number;
  /** Windows per document at most; the rest of a longer document is not scored (it counts as truncated). */
  maxChunks: number;
}

/** What planWindows needs of the tokenizer. */
export interface WindowTokenizer {
  /** Document tokens that fit in one pair next to this query (maxLength minus specials and the query's share). */
  windowTokens(query: string): Promise<number>;
  /** Tokens of each text without special tokens (capped at maxLength, which is all a window can use). */
  countTokens(texts: readonly string[]): Promise<number[]>;
}

export interface WindowPlan {
  /** The texts to score: each document itself when it fits, else its windows, in document order. */
  texts: string[];
  /** For each text, the index of its document. */
  owners: number[];
  /** Documents split into two windows or more. */
  chunked: number;
  /** Documents whose end no window reached (more than maxChunks windows' worth). */
  truncated: number;
}

const WORD = /[^\p{White_Space}]+/gu;

interface Word {
  start: number;
  end: number;
}

/** The first `max` whitespace-separated words of a text, without scanning past them. */
function firstWords(text: string, max: number): { words: Word[]; more: boolean } {
  const words: Word[] = [];
  for (const match of text.matchAll(WORD)) {
    if (words.length === max) return { words, more: true };
    words.push({ start: match.index, end: match.index + match[0].length });
  }
  return { words, more: false };
}

/** [first, end) word ranges of each window: greedy up to `size` tokens, then back by up to `overlap` tokens. */
export function windowRanges(counts: readonly number[], size: number, options: ChunkOptions): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < counts.length && ranges.length < options.maxChunks; ) {
    // A window holds at least one word, even one longer than the window (it is then cut when scored).
    let end = start + 1;
    let used = counts[start] as number;
    while (end < counts.length && used + (counts[end] as number) <= size) used += counts[end++] as number;
    ranges.push([start, end]);
    if (end >= counts.length) break;
    let next = end;
    let shared = 0;
    while (next - 1 > start && shared + (counts[next - 1] as number) <= options.overlapTokens) {
      shared += counts[--next] as number;
    }
    start = next;
  }
  return ranges;
}

async function windowsOf(
  tokenizer: WindowTokenizer,
  doc: string,
  size: number,
  options: ChunkOptions,
): Promise<{ texts: string[]; truncated: boolean }> {
  // A token covers at least one character: a document no longer than the window in characters fits.
  if (doc.length <= size) return { texts: [doc], truncated: false };
  // Every window advances by at least one word of at least one token (or zero-token words it skips over).
  const { words, more } = firstWords(doc, options.maxChunks * size);
  const counts = await tokenizer.countTokens(words.map((word) => doc.slice(word.start, word.end)));
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (!more && total <= size) return { texts: [doc], truncated: false };
  const ranges = windowRanges(counts, size, options);
  const texts = ranges.map(([first, end]) => doc.slice(words[first]!.start, words[end - 1]!.end));
  const reachedEnd = !more && ranges.at(-1)?.[1] === words.length;
  return { texts, truncated: !reachedEnd };
}

export async function planWindows(
  tokenizer: WindowTokenizer,
  query: string,
  documents: readonly string[],
  options: ChunkOptions,
): Promise<WindowPlan> {
  const size = await tokenizer.windowTokens(query);
  const plan: WindowPlan = { texts: [], owners: [], chunked: 0, truncated: 0 };
  for (const [index, doc] of documents.entries()) {
    const { texts, truncated } = await windowsOf(tokenizer, doc, size, options);
    if (texts.length > 1) plan.chunked += 1;
    if (truncated) plan.truncated += 1;
    for (const text of texts) {
      plan.texts.push(text);
      plan.owners.push(index);
    }
  }
  return plan;
}

/** Scores documents by their windows: each document gets the best score of its windows. */
export async function scoreInWindows(
  tokenizer: WindowTokenizer,
  query: string,
  documents: readonly string[],
  options: ChunkOptions,
  score: (texts: readonly string[]) => Promise<ScoreResult>,
): Promise<ScoreResult> {
  const plan = await planWindows(tokenizer, query, documents, options);
  const result = await score(plan.texts);
  const scores = new Array<number>(documents.length).fill(Number.NEGATIVE_INFINITY);
  plan.owners.forEach((owner, k) => (scores[owner] = Math.max(scores[owner] as number, result.scores[k] as number)));
  return { ...result, scores, longDocuments: { truncated: plan.truncated, chunked: plan.chunked } };
}
