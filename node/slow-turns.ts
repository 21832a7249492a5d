import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ComponentDefinition, SlowTurnWatch } from '../components/kernel/index.js';
import { WarnLimiter } from '../components/network/warn-limiter.js';

/**
 * Issue 14's bound: no handler holds a node's event loop longer than this. A component turn
 * (up to 32 of its events) that does is counted per component and logged at warn, at most once
 * per 10 s per component: the event-loop delay metric says that the loop stalled, this says who.
 * A GC pause that falls inside a turn is counted against that turn's component.
 */
export const SLOW_HANDLER_TURN_MS = 20;

export function slowTurnWatch(registry: Registry, log: Logger): SlowTurnWatch {
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
  const limiter = new WarnLimiter(log);
  let longestMs = 0;
  return {
    thresholdMs: SLOW_HANDLER_TURN_MS,
    slow(component: ComponentDefinition, ms: number, events: number): void {
      const name = component.constructor.name;
      turns.inc({ component: name });
      if (ms > longestMs) {
        longestMs = ms;
        longest.set(ms / 1000);
      }
      limiter.warn(
        `slow-turn:${name}`,
        { component: component.describe(), ms: Math.round(ms), events },
        'a component turn held the event loop',
      );
    },
  };
}
