/**
 * Which format GET /metrics answers in. JSON unless the client prefers the Prometheus text format: `?format=`
 * decides outright; otherwise the Accept header, as a Prometheus server sends it
 * (`application/openmetrics-text;version=1.0.0;q=0.6,...,text/plain;version=0.0.4;q=0.3,*\/*;q=0.2`). Media type
 * parameters other than q are ignored, so every version Prometheus asks for counts; a tie goes to JSON, so
 * browsers, curl and clients sending `application/json, text/plain, *\/*` keep the seed's JSON.
 */
import type { MetricsFormat } from '../../shared/schemas/metrics.ts';

const PROMETHEUS_TYPES = ['application/openmetrics-text', 'text/plain'];

interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((param) => param.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { type, q: Number.isFinite(quality) ? quality : 0 };
  });
}

/** How specifically a range matches a type: exact 2, "text/*" 1, "*\/*" 0, not at all -1. */
function specificity(range: string, type: string): number {
  if (range === type) return 2;
  if (range === `${type.split('/')[0]}/*`) return 1;
  return range === '*/*' ? 0 : -1;
}

/** The quality the most specific matching range gives a type (RFC 9110, 12.5.1); 0 when none matches. */
export function acceptQuality(ranges: readonly MediaRange[], type: string): number {
  let best = { specificity: -1, q: 0 };
  for (const range of ranges) {
    const match = specificity(range.type, type);
    const better = match > best.specificity || (match === best.specificity && range.q > best.q);
    if (better) best = { specificity: match, q: range.q };
  }
  return best.specificity === -1 ? 0 : best.q;
}

export function metricsFormat(accept: string | undefined, format: MetricsFormat | undefined): MetricsFormat {
  if (format) return format;
  if (!accept) return 'json';
  const ranges = parseAccept(accept);
  const prometheus = Math.max(...PROMETHEUS_TYPES.map((type) => acceptQuality(ranges, type)));
  return prometheus > acceptQuality(ranges, 'application/json') ? 'prometheus' : 'json';
}
