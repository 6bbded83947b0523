/**
 * Where a rerank's time went, as TEI reports it: X-Queue-Time, X-Tokenization-Time and X-Inference-Time, in
 * milliseconds (one decimal). A reused result carries the timings of the run that computed it.
 */
import type { RerankJobResult } from '../shared/queue.ts';

const ms = (value: number) => String(Math.round(value * 10) / 10);

export function timingHeaders(timings: RerankJobResult['timings']): Record<string, string> {
  return {
    'X-Queue-Time': ms(timings.queueMs),
    'X-Tokenization-Time': ms(timings.tokenizeMs),
    'X-Inference-Time': ms(timings.inferenceMs),
  };
}
