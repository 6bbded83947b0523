/**
 * Reads the Prometheus text format with a real parser of it (parse-prometheus-text-format, which throws on any
 * line that is not valid exposition format). That parser folds a histogram's series into one when they carry
 * labels besides `le` (its output follows prom2json's, made for unlabelled histograms), so histogram series are
 * read from a second parse of the same text with the histogram TYPE lines made untyped: there every
 * `_bucket` / `_sum` / `_count` sample keeps all its labels.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface HistogramSeries {
  buckets: Record<string, number>;
  sum: number;
  count: number;
}

export interface Exposition {
  family(name: string): ParsedFamily | undefined;
  /** Samples of one exact sample name (e.g. `x_bucket`), with all their labels. */
  samples(name: string): Sample[];
  /** The histogram series whose labels (le aside) include `labels`. */
  histogram(name: string, labels: Record<string, string>): HistogramSeries;
}

const matches = (sample: Sample, labels: Record<string, string>) =>
  Object.entries(labels).every(([key, value]) => sample.labels[key] === value);

export function parseExposition(text: string): Exposition {
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  const flat = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'));
  // Untyped, each series' _bucket, _sum and _count lines come out as families of their own, once per series.
  const bySampleName = new Map<string, Sample[]>();
  for (const family of flat) {
    const samples = family.metrics.map((metric) => ({ labels: metric.labels ?? {}, value: Number(metric.value) }));
    bySampleName.set(family.name, [...(bySampleName.get(family.name) ?? []), ...samples]);
  }
  const samples = (name: string) => bySampleName.get(name) ?? [];
  return {
    family: (name) => families.get(name),
    samples,
    histogram(name, labels) {
      const buckets = Object.fromEntries(
        samples(`${name}_bucket`)
          .filter((sample) => matches(sample, labels))
          .map((sample) => [sample.labels.le ?? '', sample.value]),
      );
      const one = (suffix: string) => samples(`${name}_${suffix}`).find((sample) => matches(sample, labels))?.value ?? NaN;
      return { buckets, sum: one('sum'), count: one('count') };
    },
  };
}
