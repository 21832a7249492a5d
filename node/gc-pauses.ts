import { PerformanceObserver } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * The longest pause V8's garbage collector has taken since the process started, beside the
 * longest handler turn (node/slow-turns.ts): a turn's wall time includes any pause inside it,
 * and at 64 writers the turns over 20 ms are mostly young-generation collections (each copies
 * every object still alive since the last one; BENCHMARKS.md, Scale). prom-client's
 * `nodejs_gc_duration_seconds` buckets (1, 10, 100 ms) cannot tell 20 ms from 90.
 */
export function watchGcPauses(registry: Registry): () => void {
  const longest = new Gauge({
    name: 'zabkv_gc_pause_max_seconds',
    help: 'The longest garbage-collection pause since the process started, any kind',
    registers: [registry],
  });
  let longestMs = 0;
  const observer = new PerformanceObserver((list) => {
    // A gc entry's duration is the collector's pause on this thread (prologue to epilogue).
    for (const entry of list.getEntries()) longestMs = Math.max(longestMs, entry.duration);
    longest.set(longestMs / 1000);
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
