/** Types for parse-prometheus-text-format (it ships none): prom2json's shape, every number as a string. */
declare module 'parse-prometheus-text-format' {
  export interface ParsedSample {
    labels?: Record<string, string>;
    value?: string;
    /** Histograms: upper bound ("0.005", "+Inf") -> cumulative count. */
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface ParsedFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: ParsedSample[];
  }
  /** Throws on a line that is not valid exposition format. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
