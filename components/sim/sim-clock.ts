import type { FutureEvent } from './future-event-list.js';

/** What simulated leaves need from the simulator: virtual time, the agenda and the trace. */
export interface SimClock {
  readonly now: number;
  after(delayMs: number, action: () => void): FutureEvent;
  traceLine(line: string): void;
}
