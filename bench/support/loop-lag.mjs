/**
 * Plain JavaScript: a --import preload runs before tsx is registered. Preloaded into a service process by bench/api-abuse.ts (NODE_OPTIONS=--import): reports the process's
 * event-loop delay (perf_hooks monitorEventLoopDelay) as a JSON line every 200 ms, so a benchmark can read the lag
 * of an unmodified API from outside. Not part of the service.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 10 });
histogram.enable();
setInterval(() => {
  const line = { msg: 'loop lag', max_ms: histogram.max / 1e6, rss_mb: process.memoryUsage.rss() / 2 ** 20 };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  histogram.reset();
}, 200).unref();
