/**
 * Assembles `[CLS] query [SEP] doc [SEP]` from single-sequence token ids, truncated exactly as the tokenizers
 * binding truncates `encode(query, doc)` with `setTruncation(maxLength)` (Python `truncation=True`), so that the
 * documents of a call can be tokenized with one `encodeBatch` and the query only once.
 */
import type { Tokenizer } from 'tokenizers';

/** The BERT pair template `[CLS] A [SEP] B [SEP]`, type ids 0 up to the first [SEP] and 1 after it. */
export interface BertPairTemplate {
  cls: number;
  sep: number;
  /** The closing special token, [SEP] in every BERT tokenizer seen, read from the template all the same. */
  sepB: number;
}

/** Special tokens the BERT template adds to a pair. */
export const BERT_PAIR_SPECIALS = 3;

/**
 * Reads the pair template from the tokenizer's post-processor by encoding probe pairs; undefined when it is not
 * the BERT one (then callers encode pairs with the tokenizer itself).
 */
export async function detectBertTemplate(tokenizer: Tokenizer): Promise<BertPairTemplate | undefined> {
  const single = async (text: string) => (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
  const [a, b] = [await single('a'), await single('b')];
  if (a.length === 0 || b.length === 0) return undefined;
  const probe = await tokenizer.encode('a', 'b');
  const empty = await tokenizer.encode('', '');
  const ids = probe.getIds();
  const [cls, sep, sepB] = [ids[0], ids[a.length + 1], ids.at(-1)];
  if (cls === undefined || sep === undefined || sepB === undefined) return undefined;
  const template = { cls, sep, sepB };
  const expected = assemble(template, a, a.length, b, b.length);
  const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const bare = assemble(template, [], 0, [], 0);
  const matches =
    same(ids, expected.ids) &&
    same(probe.getTypeIds(), expected.typeIds) &&
    same(empty.getIds(), bare.ids) &&
    same(empty.getTypeIds(), bare.typeIds);
  return matches ? template : undefined;
}

/**
 * Tokens kept of a pair of n1 and n2 tokens under longest-first truncation to `budget` (maxLength minus the
 * pair's special tokens), as tokenizers' `truncate_encodings` (utils/truncation.rs) computes them: nothing when
 * both fit; else the shorter keeps its length when the longer can have the rest, and otherwise the budget is
 * split in halves, the odd token going to the longer (to the second sequence on a tie).
 *
 * Callers must pass exact lengths only when n1 <= budget: the binding (0.23.2) compares the lengths of a
 * sequence over maxLength tokens after cutting it at the first word that reaches maxLength (added tokens such
 * as a literal "[SEP]" not counting), which only matters when both sides exceed the budget.
 */
export function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let [short, long] = swap ? [n2, n1] : [n1, n2];
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}

/** `[CLS] query[0, keepQuery) [SEP] doc[0, keepDoc) [SEP]` and its type ids. */
export function assemble(
  template: BertPairTemplate,
  query: readonly number[],
  keepQuery: number,
  doc: readonly number[],
  keepDoc: number,
): { ids: number[]; typeIds: number[] } {
  const length = keepQuery + keepDoc + BERT_PAIR_SPECIALS;
  const ids = new Array<number>(length);
  const typeIds = new Array<number>(length);
  let at = 0;
  ids[at++] = template.cls;
  for (let i = 0; i < keepQuery; i++) ids[at++] = query[i] as number;
  ids[at++] = template.sep;
  typeIds.fill(0, 0, at);
  for (let i = 0; i < keepDoc; i++) ids[at++] = doc[i] as number;
  ids[at++] = template.sepB;
  typeIds.fill(1, keepQuery + 2, at);
  return { ids, typeIds };
}
