import { build } from 'hdr-histogram-js';
import type { Verdict } from '../sim/linearizability/checker.js';

/** One client operation as both runners record it (ms from the start of the workload). */
export interface OpRecord {
  readonly group: number;
  readonly start: number;
  /** Infinity when the outcome is unknown. */
  readonly end: number;
  /** ok: answered (any definite answer); unavailable: did not happen (503); unknown: 504 or lost. */
  readonly outcome: 'ok' | 'unavailable' | 'unknown';
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ActionRecord {
  readonly atMs: number;
  readonly text: string;
  /** Set when the action could not be carried out (e.g. no leader to kill). */
  readonly failed?: string;
}

/** What one run (one seed in the simulator) produced: the report's raw JSON. */
export interface RunResult {
  readonly mode: 'real' | 'sim';
  readonly seed?: number;
  readonly durationSec: number;
  /** Real runs: the machine's cores and its 1-minute load average at the start and the end. */
  readonly machine?: { readonly cpus: number; readonly load: readonly [number, number] };
  readonly actions: readonly ActionRecord[];
  readonly groups: readonly number[];
  /** Per group: operations that succeeded / failed (503 or unknown) in each second. */
  readonly perSecond: Readonly<Record<string, { ok: number[]; failed: number[] }>>;
  /** Per group and `all`, of successful operations, in ms. */
  readonly latency: Readonly<Record<string, LatencySummary>>;
  /** Per group: [from, to] seconds, a second or more long, in which no operation succeeded. */
  readonly unavailable: Readonly<Record<string, [number, number][]>>;
  /** Per group: the longest time (ms) between two successful operations (or an end). */
  readonly longestGapMs: Readonly<Record<string, number>>;
  readonly counts: { readonly ok: number; readonly unavailable: number; readonly unknown: number };
  readonly linearizability: { readonly verdict: Verdict; readonly operations: number };
}

/** A gap this long without a successful operation counts as the group being unavailable. */
export const UNAVAILABLE_GAP_MS = 1_000;

const round = (seconds: number) => Math.round(seconds * 10) / 10;

/** Per-second counts, latency and availability windows from the operations of a run. */
export function summarize(
  ops: readonly OpRecord[],
  groups: readonly number[],
  durationMs: number,
): Pick<RunResult, 'perSecond' | 'latency' | 'unavailable' | 'longestGapMs' | 'counts'> {
  const seconds = Math.ceil(durationMs / 1000);
  const perSecond: Record<string, { ok: number[]; failed: number[] }> = {};
  for (const g of groups) {
    perSecond[g] = {
      ok: new Array<number>(seconds).fill(0),
      failed: new Array<number>(seconds).fill(0),
    };
  }
  const histograms = new Map<string, ReturnType<typeof build>>();
  const histogram = (key: string) => {
    let h = histograms.get(key);
    if (h === undefined) {
      h = build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
      });
      histograms.set(key, h);
    }
    return h;
  };
  const counts = { ok: 0, unavailable: 0, unknown: 0 };
  for (const op of ops) {
    counts[op.outcome]++;
    const when = op.outcome === 'unknown' ? op.start : op.end;
    const second = Math.min(seconds - 1, Math.max(0, Math.floor(when / 1000)));
    const series = perSecond[op.group];
    if (series === undefined) continue;
    if (op.outcome === 'ok') {
      series.ok[second]!++;
      const micros = Math.max(1, Math.round((op.end - op.start) * 1000));
      histogram(String(op.group)).recordValue(micros);
      histogram('all').recordValue(micros);
    } else {
      series.failed[second]!++;
    }
  }
  const latency: Record<string, LatencySummary> = {};
  for (const [key, h] of histograms) {
    const ms = (p: number) => h.getValueAtPercentile(p) / 1000;
    latency[key] = {
      count: h.totalCount,
      p50: ms(50),
      p90: ms(90),
      p99: ms(99),
      max: h.maxValue / 1000,
    };
    h.destroy();
  }
  // Gaps between successive successful operations of a group: with clients busy on every
  // group, a gap is time in which the group served nobody (a failover, a partition).
  const unavailable: Record<string, [number, number][]> = {};
  const longestGapMs: Record<string, number> = {};
  for (const g of groups) {
    const ends = ops
      .filter((op) => op.group === g && op.outcome === 'ok')
      .map((op) => op.end)
      .sort((a, b) => a - b);
    const windows: [number, number][] = [];
    let longest = 0;
    let previous = 0;
    for (const end of [...ends, durationMs]) {
      const gap = Math.min(end, durationMs) - previous;
      longest = Math.max(longest, gap);
      if (gap >= UNAVAILABLE_GAP_MS)
        windows.push([round(previous / 1000), round(Math.min(end, durationMs) / 1000)]);
      previous = Math.max(previous, end);
    }
    unavailable[g] = windows;
    longestGapMs[g] = Math.round(longest);
  }
  return { perSecond, latency, unavailable, longestGapMs, counts };
}
