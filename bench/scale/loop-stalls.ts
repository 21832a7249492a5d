// How the nodes' event loops fared during one phase of load: the handler turns of 20 ms or
// more and the GC pauses of 20 ms or more, from the nodes' histograms read at the phase's start
// and end. The max gauges of node/slow-turns.ts count from each process's start, which is
// itself a long turn (opening the state, creating the group's components), so they cannot say
// whether the load made any.
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
  /** GC pauses longer than 20 ms. */
  readonly gcPausesOver20: number;
  /** The longest event-loop delay any node reported during the phase, ms. */
  readonly loopDelayMaxMs: number;
}

const TURNS = 'zabkv_slow_handler_turn_seconds';
const TURNS_WITHOUT_GC = 'zabkv_slow_handler_turn_without_gc_seconds';
const GC_PAUSES = 'zabkv_gc_pause_seconds';
const THRESHOLD_SEC = SLOW_HANDLER_TURN_MS / 1000;

/** How many observations of histogram `name` were above bucket `le` (all of them: no `le`). */
function over(samples: ReadonlyMap<string, number>, name: string, le?: number): number {
  const count = samples.get(`${name}_count`) ?? 0;
  return le === undefined ? count : count - (samples.get(`${name}_bucket{le="${le}"}`) ?? 0);
}

type Counts = Omit<LoopStalls, 'loopDelayMaxMs'>;
const NONE: Counts = {
  turns: 0,
  turnsOver50: 0,
  turnsOver100: 0,
  turnsWithoutGc: 0,
  gcPausesOver20: 0,
};

function counts(samples: ReadonlyMap<string, number> | null): Counts {
  if (samples === null) return NONE;
  return {
    turns: over(samples, TURNS),
    turnsOver50: over(samples, TURNS, 0.05),
    turnsOver100: over(samples, TURNS, 0.1),
    turnsWithoutGc: over(samples, TURNS_WITHOUT_GC, THRESHOLD_SEC),
    gcPausesOver20: over(samples, GC_PAUSES, THRESHOLD_SEC),
  };
}

/**
 * The stalls between two readings of the same nodes. A node that did not answer the second
 * time is left out; one that restarted in between (`restarted`, 1-based) counts from its new
 * process's start, which is part of the phase.
 */
export function loopStallsBetween(
  first: Reading,
  last: Reading,
  loopDelayMaxMs: number,
  restarted?: number,
): LoopStalls {
  const total: Record<keyof Counts, number> = { ...NONE };
  last.forEach((after, i) => {
    if (after === null) return;
    const a = counts(after);
    const b = counts(restarted === i + 1 ? null : (first[i] ?? null));
    for (const key of Object.keys(total) as (keyof Counts)[])
      total[key] += Math.max(0, a[key] - b[key]);
  });
  return { ...total, loopDelayMaxMs };
}
