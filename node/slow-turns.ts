import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type {
  ComponentDefinition,
  SlowTurnWatch,
  ThreadTimes,
} from '../components/kernel/index.js';
import { WarnLimiter } from '../components/network/warn-limiter.js';
import type { GcPauses } from './gc-pauses.js';

/**
 * Issue 14's bound: no handler holds a node's event loop longer than this. A component turn
 * (up to 32 of its events) that does is counted per component. The time is wall time: a GC
 * pause inside the turn counts, and so does the process not being scheduled at all, which on
 * a machine with more busy threads than cores (a 2-core box running 3 nodes and a load
 * generator) alone makes turns of 20-40 ms; hence warn only from SLOW_HANDLER_WARN_MS, or from
 * SLOW_HANDLER_TURN_MS on the CPU when the thread's times are read, once per 10 s per component,
 * and debug below. The event-loop delay metric says that the loop stalled, this says in whose
 * turn.
 */
export const SLOW_HANDLER_TURN_MS = 20;
export const SLOW_HANDLER_WARN_MS = 100;

/**
 * A gc entry reaches its observer in a later task than the pause: the GC inside a slow turn is
 * counted this long after it (the loop runs its immediates first).
 */
export const GC_REPORT_WAIT_MS = 50;

/**
 * The buckets of the slow-turn histograms, in seconds. A max gauge counts from the process
 * start (its own start is a long turn); bucket counts can be compared between two scrapes, so a
 * benchmark can say how many turns of each size one phase of its load had.
 */
export const SLOW_TURN_BUCKETS = [SLOW_HANDLER_TURN_MS / 1000, 0.05, 0.1, 0.2, 0.5, 1];

export function slowTurnWatch(
  registry: Registry,
  log: Logger,
  options: {
    readonly gc?: Pick<GcPauses, 'overlapMs'>;
    /**
     * The thread's times (node/thread-times.ts): turns say how long they ran and how long they
     * waited for a core.
     */
    readonly threadClock?: (into: ThreadTimes) => void;
  } = {},
): SlowTurnWatch {
  const { gc, threadClock } = options;
  const turns = new Counter({
    name: 'zabkv_slow_handler_turns_total',
    help: `Component turns (up to 32 events of one component) that held the event loop ${SLOW_HANDLER_TURN_MS} ms or longer`,
    labelNames: ['component'],
    registers: [registry],
  });
  const longest = new Gauge({
    name: 'zabkv_slow_handler_turn_max_seconds',
    help: 'The longest component turn since the process started (0 until one takes the threshold)',
    registers: [registry],
  });
  // The handler's share of the turn: what the 20 ms bound is about, where the turn's
  // wall time also holds the collector's pauses (and time off the CPU, which stays in both).
  const longestWithoutGc = new Gauge({
    name: 'zabkv_slow_handler_turn_without_gc_max_seconds',
    help: 'The longest component turn since the process started less the GC pauses inside it (0 until a turn takes the threshold)',
    registers: [registry],
  });
  const sizes = new Histogram({
    name: 'zabkv_slow_handler_turn_seconds',
    help: `Component turns that held the event loop ${SLOW_HANDLER_TURN_MS} ms or longer, by their wall time (none shorter is observed)`,
    buckets: SLOW_TURN_BUCKETS,
    registers: [registry],
  });
  const sizesWithoutGc = new Histogram({
    name: 'zabkv_slow_handler_turn_without_gc_seconds',
    help: `The same turns less the GC pauses inside them (those at or below ${SLOW_HANDLER_TURN_MS} ms took the threshold only with their GC)`,
    buckets: SLOW_TURN_BUCKETS,
    registers: [registry],
  });
  const timeHistogram = (name: string, help: string) =>
    threadClock === undefined
      ? null
      : new Histogram({ name, help, buckets: SLOW_TURN_BUCKETS, registers: [registry] });
  const sizesOnCpu = timeHistogram(
    'zabkv_slow_handler_turn_on_cpu_seconds',
    `The same turns' time on the CPU (--measure-turn-cpu)`,
  );
  const sizesWaiting = timeHistogram(
    'zabkv_slow_handler_turn_waiting_seconds',
    `The same turns' time runnable but waiting for a core (--measure-turn-cpu); what neither this nor the time on the CPU holds, the thread was blocked`,
  );
  const limiter = new WarnLimiter(log);
  let longestMs = 0;
  let longestWithoutGcMs = 0;
  return {
    thresholdMs: SLOW_HANDLER_TURN_MS,
    ...(threadClock === undefined ? {} : { threadClock }),
    slow(
      component: ComponentDefinition,
      ms: number,
      kinds: readonly string[],
      times?: Readonly<ThreadTimes>,
    ) {
      const name = component.constructor.name;
      turns.inc({ component: name });
      sizes.observe(ms / 1000);
      if (times !== undefined) {
        sizesOnCpu?.observe(times.onCpuMs / 1000);
        sizesWaiting?.observe(times.waitingMs / 1000);
      }
      if (ms > longestMs) {
        longestMs = ms;
        longest.set(ms / 1000);
      }
      const fields = {
        component: component.describe(),
        ms: Math.round(ms),
        ...(times === undefined
          ? {}
          : { cpuMs: Math.round(times.onCpuMs), waitMs: Math.round(times.waitingMs) }),
        events: kinds.length,
        kinds: countKinds(kinds),
      };
      // Waiting for a core is the machine's doing; a turn that long on the CPU is the handler's
      // (or the GC's inside it: `gcMs` says): the bound, rare, so always named.
      const warn =
        ms >= SLOW_HANDLER_WARN_MS ||
        (times !== undefined && times.onCpuMs >= SLOW_HANDLER_TURN_MS);
      const report = (gcMs?: number): void => {
        const logged = gcMs === undefined ? fields : { ...fields, gcMs: Math.round(gcMs) };
        if (!warn) log.debug(logged, 'a component turn held the event loop');
        else limiter.warn(`slow-turn:${name}`, logged, 'a component turn held the event loop');
      };
      if (gc === undefined) return report();
      const end = performance.now();
      const start = end - ms;
      setTimeout(() => {
        const gcMs = gc.overlapMs(start, end);
        report(gcMs);
        const withoutGc = ms - gcMs;
        sizesWithoutGc.observe(withoutGc / 1000);
        if (withoutGc <= longestWithoutGcMs) return;
        longestWithoutGcMs = withoutGc;
        longestWithoutGc.set(withoutGc / 1000);
      }, GC_REPORT_WAIT_MS).unref();
    },
  };
}

/** How many events of each kind a turn ran, e.g. { 'zab.Ack': 30, Timeout: 2 }. */
function countKinds(kinds: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
