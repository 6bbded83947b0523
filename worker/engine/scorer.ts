/** Logits -> scores: sigmoid (or raw logits), written back to the caller's input order. */

/** Logistic function written so neither branch overflows exp() for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Writes logit k of a batch to scores[indices[k]]: batches run in length order, scores come back in input order.
 */
export function scatterScores(
  logits: ArrayLike<number>,
  indices: readonly number[],
  scores: number[],
  raw: boolean,
): void {
  if (logits.length !== indices.length) {
    throw new RangeError(`scatterScores: ${logits.length} logits for ${indices.length} rows`);
  }
  indices.forEach((target, k) => {
    const logit = logits[k] as number;
    scores[target] = raw ? logit : sigmoid(logit);
  });
}
