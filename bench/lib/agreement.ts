/**
 * How closely two scorings of the same pairs agree: Pearson and Spearman correlation, and the overlap of each
 * query's top 10. Used to judge an int8 model against its fp32 original (benchmarks and tests).
 */

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const meanA = a.reduce((sum, x) => sum + x, 0) / n;
  const meanB = b.reduce((sum, x) => sum + x, 0) / n;
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - meanA;
    const db = b[i]! - meanB;
    cov += da * db;
    varA += da * da;
    varB += db * db;
  }
  return cov / Math.sqrt(varA * varB);
}

/** Ranks 1..n, ties sharing their mean rank. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((x, y) => x.value - y.value);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]!.value === order[start]!.value) end++;
    for (let k = start; k <= end; k++) out[order[k]!.index] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return out;
}

export function spearman(a: readonly number[], b: readonly number[]): number {
  return pearson(ranks(a), ranks(b));
}

const topIndices = (scores: readonly number[], k: number): number[] =>
  scores
    .map((score, index) => ({ score, index }))
    .sort((x, y) => y.score - x.score || x.index - y.index)
    .slice(0, k)
    .map((entry) => entry.index);

/** Mean share of each query's top k (by `a`) that `b` also puts in its top k. */
export function topKOverlap(a: readonly number[][], b: readonly number[][], k = 10): number {
  let total = 0;
  for (let q = 0; q < a.length; q++) {
    const expected = new Set(topIndices(a[q]!, k));
    total += topIndices(b[q]!, k).filter((index) => expected.has(index)).length / Math.min(k, a[q]!.length);
  }
  return total / a.length;
}

export interface Agreement {
  pearson: number;
  spearman: number;
  top10: number;
}

export function agreement(a: readonly number[][], b: readonly number[][]): Agreement {
  return { pearson: pearson(a.flat(), b.flat()), spearman: spearman(a.flat(), b.flat()), top10: topKOverlap(a, b) };
}
