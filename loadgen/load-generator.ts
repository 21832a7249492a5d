import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { build, type Histogram } from 'hdr-histogram-js';
import { SeededRandom } from '../components/random/seeded-random.js';
import { KeyChooser } from './key-chooser.js';
import type { LoadTarget } from './load-target.js';

export interface LoadOptions {
  readonly target: LoadTarget;
  /** Requests in flight (closed loop), or the most in flight (open loop). */
  readonly clients: number;
  /** Stop after this many seconds of measurement (after warmup)... */
  readonly durationSec?: number;
  /** ...or after this many operations. */
  readonly total?: number;
  /** Open loop: operations per second, latency measured from each one's intended send time. */
  readonly rate?: number;
  readonly readRatio: number;
  readonly consistency: 'linearizable' | 'stale';
  readonly keySpace: number;
  readonly keyDistribution: 'uniform' | 'zipf';
  readonly valueSize: number;
  readonly warmupSec: number;
  readonly seed: number;
  /** Ends the run early, whatever the duration or total (a benchmark phase that ends on an event). */
  readonly stop?: AbortSignal;
  readonly onProgress?: (done: number, elapsedSec: number) => void;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadResult {
  readonly target: string;
  readonly ops: number;
  readonly durationSec: number;
  readonly throughput: number;
  /** Milliseconds. */
  readonly latency: LatencySummary;
  readonly errors: Record<string, number>;
  /** Successful operations completed in each second of the measurement. */
  readonly timeline: number[];
  /** Latency percentile curve for plotting: [percentile, ms]. */
  readonly distribution: [number, number][];
}

/**
 * The load generator behind `zabkv bench`, shaped like etcd's benchmark tool. Closed loop by
 * default (each client waits for its answer); with `rate`, open loop: operations are due at
 * fixed intended times and latency counts from then, so a stall shows up in the latencies
 * instead of quietly lowering the offered load (coordinated omission).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const random = new SeededRandom(options.seed);
  const keys = new KeyChooser(options.keySpace, options.keyDistribution, random.fork('keys'));
  const value = Buffer.alloc(options.valueSize, 'x');
  const histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const errors: Record<string, number> = {};
  const timeline: number[] = [];
  const started = performance.now();
  const measureFrom = started + options.warmupSec * 1000;
  const measureUntil =
    options.durationSec === undefined ? Infinity : measureFrom + options.durationSec * 1000;
  let done = 0;
  let failed = 0;
  const enough = () =>
    options.stop?.aborted === true ||
    performance.now() >= measureUntil ||
    (options.total !== undefined && done + failed >= options.total);

  const operate = async (intended: number): Promise<void> => {
    const key = keys.next();
    const read = random.chance(options.readRatio);
    try {
      if (read) await options.target.get(key, options.consistency);
      else await options.target.put(key, value);
      const now = performance.now();
      if (intended < measureFrom) return;
      histogram.recordValue(Math.max(1, Math.round((now - intended) * 1000)));
      const second = Math.floor((now - measureFrom) / 1000);
      timeline[second] = (timeline[second] ?? 0) + 1;
      done++;
    } catch (error) {
      if (intended < measureFrom) return;
      failed++;
      const kind =
        (error as Error).constructor.name === 'Error'
          ? `status ${(error as { status?: number }).status ?? '?'}`
          : (error as Error).constructor.name;
      errors[kind] = (errors[kind] ?? 0) + 1;
    }
  };

  const progress = setInterval(
    () => options.onProgress?.(done, (performance.now() - measureFrom) / 1000),
    250,
  );
  try {
    if (options.rate === undefined) {
      await Promise.all(
        Array.from({ length: options.clients }, async () => {
          while (!enough()) {
            await operate(performance.now());
          }
        }),
      );
    } else {
      const interval = 1000 / options.rate;
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; !enough(); i++) {
        const intended = started + i * interval;
        const wait = intended - performance.now();
        if (wait > 1) await sleep(wait);
        while (inFlight.size >= options.clients) await Promise.race(inFlight);
        const op: Promise<void> = operate(intended).finally(() => inFlight.delete(op));
        inFlight.add(op);
      }
      await Promise.all(inFlight);
    }
  } finally {
    clearInterval(progress);
  }
  const durationSec = Math.max(
    0.001,
    (Math.min(performance.now(), measureUntil) - measureFrom) / 1000,
  );
  const ms = (value: number) => value / 1000;
  const distribution: [number, number][] = [];
  for (const p of [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100]) {
    distribution.push([p, ms(histogram.getValueAtPercentile(p))]);
  }
  const result: LoadResult = {
    target: options.target.name,
    ops: done,
    durationSec,
    throughput: done / durationSec,
    latency: {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean),
    },
    errors,
    timeline: Array.from({ length: Math.ceil(durationSec) }, (_, i) => timeline[i] ?? 0),
    distribution,
  };
  histogram.destroy();
  return result;
}

export function formatResult(result: LoadResult): string {
  const { latency } = result;
  const errors = Object.entries(result.errors);
  return [
    `${result.target}: ${result.ops} ops in ${result.durationSec.toFixed(1)} s = ${result.throughput.toFixed(0)} ops/s`,
    `latency ms: p50 ${latency.p50.toFixed(2)}  p90 ${latency.p90.toFixed(2)}  p99 ${latency.p99.toFixed(2)}  ` +
      `p99.9 ${latency.p999.toFixed(2)}  max ${latency.max.toFixed(2)}  mean ${latency.mean.toFixed(2)}`,
    `errors: ${errors.length === 0 ? 'none' : errors.map(([kind, n]) => `${kind} ${n}`).join(', ')}`,
  ].join('\n');
}
