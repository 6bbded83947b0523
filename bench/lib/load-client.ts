/**
 * The load generator, run in its own process so that its HTTP and JSON work does not share the benchmark's
 * event loop: a closed loop of `concurrency` clients, each sending distinct 20-document sync /rerank requests
 * one after another until `requests` have been sent. Prints one JSON line with the latencies and statuses.
 *
 *   node --import tsx bench/lib/load-client.ts <base-url> <concurrency> <requests> <docs-per-request> <tag>
 */
import { wordPassages } from './report.ts';

const [base, concurrencyText, requestsText, docsText, tag] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const requests = Number(requestsText);
const docs = Number(docsText);
const passages = wordPassages(512, 60);

export interface LoadResult {
  concurrency: number;
  requests: number;
  wallMs: number;
  latenciesMs: number[];
  statuses: Record<string, number>;
}

async function client(next: () => number | undefined, result: LoadResult): Promise<void> {
  for (let i = next(); i !== undefined; i = next()) {
    const documents = Array.from({ length: docs }, (_, d) => passages[(i * docs + d) % passages.length]!);
    const body = JSON.stringify({ query: `what causes the tides ${tag} ${i}`, documents });
    const started = performance.now();
    let status = 'error';
    try {
      const response = await fetch(`${base}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await response.arrayBuffer();
      status = String(response.status);
    } catch {
      // counted as 'error'
    }
    result.latenciesMs.push(performance.now() - started);
    result.statuses[status] = (result.statuses[status] ?? 0) + 1;
  }
}

const result: LoadResult = { concurrency, requests, wallMs: 0, latenciesMs: [], statuses: {} };
let sent = 0;
const next = () => (sent < requests ? sent++ : undefined);
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, () => client(next, result)));
result.wallMs = performance.now() - started;
process.stdout.write(`${JSON.stringify(result)}\n`);
