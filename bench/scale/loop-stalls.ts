// How the nodes' event loops fared during one phase of load: the handler turns of 20 ms or
// more and the GC pauses of 20 ms or more, from the nodes' histograms read at the phase's start
// and end. The max gauges of node/slow-turns.ts count from each process's start, which is
// itself a long turn (creating the group's components), so they cannot say whether the load
// made any.
import { SLOW_HANDLER_TURN_MS } from '../../node/slow-turns.js';
import type { Reading } from './node-sampler.js';

export interface LoopStalls {
  /** Component turns of 20 ms or more (wall time), summed over the nodes. */
  readonly turns: number;
  /** Of those, the turns longer than 50 ms and than 100 ms. */
  readonly turnsOver50: number;
  readonly turnsOver100: number;
  /** The turns still longer than 20 ms less the GC pauses inside them. */
  readonly turnsWithoutGc: number;
  /**
   * The turns longer than 20 ms on the CPU (nodes started with --measure-turn-cpu): a handler's
   * own work, where the wall time also holds waiting for a core. Null where a node read does not
   * measure it.
   */
  readonly turnsOnCpu: number | null;
  /** GC pauses longer than 20 ms. */
  readonly gcPausesOver20: number;
  /** The longest event-loop delay any node reported during the phase, ms. */
  readonly loopDelayMaxMs: number;
  /** Nodes left out: not read at the phase's start or end (or without the histograms). */
  readonly nodesNotRead: number;
}

const TURNS = 'zabkv_slow_handler_turn_seconds';
const TURNS_WITHOUT_GC = 'zabkv_slow_handler_turn_without_gc_seconds';
const TURNS_ON_CPU = 'zabkv_slow_handler_turn_on_cpu_seconds';
const GC_PAUSES = 'zabkv_gc_pause_seconds';
const THRESHOLD_SEC = SLOW_HANDLER_TURN_MS / 1000;

/** How many observations of histogram `name` were above bucket `le` (all of them: no `le`). */
function over(samples: ReadonlyMap<string, number>, name: string, le?: number): number {
  const count = samples.get(`${name}_count`) ?? 0;
  if (le === undefined) return count;
  const atOrBelow = samples.get(`${name}_bucket{le="${le}"}`);
  // A bound that is not one of the histogram's buckets would read as "all of them".
  if (atOrBelow === undefined && count > 0) throw new Error(`${name} has no bucket le=${le}`);
  return count - (atOrBelow ?? 0);
}

type Counts = Omit<LoopStalls, 'loopDelayMaxMs' | 'nodesNotRead'>;
const NONE: Counts = {
  turns: 0,
  turnsOver50: 0,
  turnsOver100: 0,
  turnsWithoutGc: 0,
  turnsOnCpu: 0,
  gcPausesOver20: 0,
};

/** The counts every node has; turnsOnCpu only those started with --measure-turn-cpu. */
const SUMMED = [
  'turns',
  'turnsOver50',
  'turnsOver100',
  'turnsWithoutGc',
  'gcPausesOver20',
] as const;

/** A node's counts since its start; null when it did not answer or has no such histograms. */
function counts(samples: ReadonlyMap<string, number> | null): Counts | null {
  if (samples === null || !samples.has(`${TURNS}_count`)) return null;
  return {
    turns: over(samples, TURNS),
    turnsOver50: over(samples, TURNS, 0.05),
    turnsOver100: over(samples, TURNS, 0.1),
    turnsWithoutGc: over(samples, TURNS_WITHOUT_GC, THRESHOLD_SEC),
    turnsOnCpu: samples.has(`${TURNS_ON_CPU}_count`)
      ? over(samples, TURNS_ON_CPU, THRESHOLD_SEC)
      : null,
    gcPausesOver20: over(samples, GC_PAUSES, THRESHOLD_SEC),
  };
}

/**
 * The stalls between two readings of the same nodes. A node that restarted in between
 * (`restarted`, 1-based) counts from its new process's start, which is part of the phase; any
 * other node not read at both ends is left out and counted in `nodesNotRead` (a node stuck in a
 * long turn is the one whose scrape times out: its absence must not read as "no stalls").
 */
export function loopStallsBetween(
  first: Reading,
  last: Reading,
  loopDelayMaxMs: number,
  restarted?: number,
): LoopStalls {
  const total: { -readonly [K in keyof Counts]: Counts[K] } = { ...NONE };
  let nodesNotRead = 0;
  last.forEach((after, i) => {
    const a = counts(after);
    const b = restarted === i + 1 ? NONE : counts(first[i] ?? null);
    if (a === null || b === null) {
      nodesNotRead++;
      return;
    }
    for (const key of SUMMED) total[key] += Math.max(0, a[key] - b[key]);
    total.turnsOnCpu =
      total.turnsOnCpu === null || a.turnsOnCpu === null || b.turnsOnCpu === null
        ? null
        : total.turnsOnCpu + Math.max(0, a.turnsOnCpu - b.turnsOnCpu);
  });
  return { ...total, loopDelayMaxMs, nodesNotRead };
}
