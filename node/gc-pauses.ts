import Denque from 'denque';
import { PerformanceObserver } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';

/** Pauses kept for `overlapMs`: a slow turn asks within milliseconds of its end. */
const RECENT_PAUSES_MS = 10_000;
const RECENT_PAUSES_MAX = 1_024;
/** Seconds: around the 20 ms a handler turn may take (node/slow-turns.ts). */
const PAUSE_BUCKETS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5];

/** One collector pause, in performance.now() time. */
interface Pause {
  readonly start: number;
  readonly end: number;
}

/** The node's GC pauses: the longest and a histogram as metrics, the recent ones for slow turns. */
export interface GcPauses {
  /** Milliseconds of GC pause within [start, end] (performance.now() time) seen so far. */
  overlapMs(start: number, end: number): number;
  stop(): void;
}

/**
 * The longest pause V8's garbage collector has taken since the process started, beside the
 * longest handler turn (node/slow-turns.ts): a turn's wall time includes any pause inside it,
 * and at 64 writers the turns over 20 ms are mostly young-generation collections (each copies
 * every object still alive since the last one; BENCHMARKS.md, Scale). prom-client's
 * `nodejs_gc_duration_seconds` buckets (1, 10, 100 ms) cannot tell 20 ms from 90, hence
 * `zabkv_gc_pause_seconds` with buckets around 20 ms, which a benchmark reads per phase.
 */
export function watchGcPauses(registry: Registry): GcPauses {
  const longest = new Gauge({
    name: 'zabkv_gc_pause_max_seconds',
    help: 'The longest garbage-collection pause since the process started, any kind',
    registers: [registry],
  });
  const pauses = new Histogram({
    name: 'zabkv_gc_pause_seconds',
    help: 'Garbage-collection pauses, any kind',
    buckets: PAUSE_BUCKETS,
    registers: [registry],
  });
  let longestMs = 0;
  const recent = new Denque<Pause>();
  const observer = new PerformanceObserver((list) => {
    // A gc entry's duration is the collector's pause on this thread (prologue to epilogue).
    for (const entry of list.getEntries()) {
      longestMs = Math.max(longestMs, entry.duration);
      pauses.observe(entry.duration / 1000);
      recent.push({ start: entry.startTime, end: entry.startTime + entry.duration });
    }
    const newest = recent.peekBack()?.end ?? 0;
    while (
      recent.length > RECENT_PAUSES_MAX ||
      (recent.peekFront()?.end ?? Infinity) < newest - RECENT_PAUSES_MS
    )
      recent.shift();
    longest.set(longestMs / 1000);
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    overlapMs: (start, end) => overlapMs(recent.toArray(), start, end),
    stop: () => observer.disconnect(),
  };
}

/** Milliseconds of `pauses` within [start, end]. */
export function overlapMs(pauses: readonly Pause[], start: number, end: number): number {
  let total = 0;
  for (const pause of pauses)
    total += Math.max(0, Math.min(end, pause.end) - Math.max(start, pause.start));
  return total;
}
