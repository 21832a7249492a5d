import { portType } from '../kernel/index.js';

/** Identifies one scheduled timeout; unique within a ComponentSystem (see `TimerClient`). */
export type TimeoutId = number;

/** Ask for a `Timeout` after `delayMs`, then every `periodMs` if given, until cancelled. */
export interface ScheduleTimeout {
  readonly kind: 'ScheduleTimeout';
  readonly id: TimeoutId;
  readonly delayMs: number;
  readonly periodMs?: number;
}

export interface CancelTimeout {
  readonly kind: 'CancelTimeout';
  readonly id: TimeoutId;
}

/** Delivered only to the port that scheduled it, never earlier than asked (no upper bound). */
export interface Timeout {
  readonly kind: 'Timeout';
  readonly id: TimeoutId;
}

export type TimerRequest = ScheduleTimeout | CancelTimeout;
export type TimerIndication = Timeout;

export const Timer = portType<TimerRequest, TimerIndication>('Timer');
