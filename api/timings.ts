/**
 * A rerank job's stage timings as the client and the log see them, in milliseconds with one decimal. Headers as
 * TEI sends them: X-Queue-Time, X-Tokenization-Time and X-Inference-Time. A reused result carries the timings of
 * the run that computed it.
 */
import type { RerankJobResult } from '../shared/queue.ts';
import { round1 } from '../shared/figures.ts';

type JobTimings = RerankJobResult['timings'];

export function roundedTimings({ queueMs, tokenizeMs, inferenceMs }: JobTimings): JobTimings {
  return { queueMs: round1(queueMs), tokenizeMs: round1(tokenizeMs), inferenceMs: round1(inferenceMs) };
}

export function timingHeaders(timings: JobTimings): Record<string, string> {
  const { queueMs, tokenizeMs, inferenceMs } = roundedTimings(timings);
  return {
    'X-Queue-Time': String(queueMs),
    'X-Tokenization-Time': String(tokenizeMs),
    'X-Inference-Time': String(inferenceMs),
  };
}
