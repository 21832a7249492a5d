import type { ComponentDefinition } from '../kernel/index.js';
import type { TimeoutId, TimerIndication, TimerRequest } from './timer-port.js';

type Trigger = (event: TimerRequest) => void;

/**
 * The requiring side of the Timer port, made convenient: `after` and `every` return an id and
 * the callback runs inside the Timeout handler, so it is an ordinary run-to-completion event
 * of the owning component. Ids come from the system counter, so they replay exactly.
 */
export class TimerClient {
  private readonly pending = new Map<TimeoutId, { callback: () => void; periodic: boolean }>();

  constructor(
    private readonly owner: ComponentDefinition,
    private readonly send: Trigger,
  ) {}

  /** The handler to subscribe to the Timer port's `Timeout`. */
  readonly onTimeout = (timeout: TimerIndication): void => {
    const entry = this.pending.get(timeout.id);
    if (entry === undefined) return; // cancelled while the Timeout was in flight
    if (!entry.periodic) this.pending.delete(timeout.id);
    entry.callback();
  };

  after(delayMs: number, callback: () => void): TimeoutId {
    const id = this.owner.system.nextId();
    this.pending.set(id, { callback, periodic: false });
    this.send({ kind: 'ScheduleTimeout', id, delayMs });
    return id;
  }

  every(periodMs: number, callback: () => void, firstDelayMs = periodMs): TimeoutId {
    const id = this.owner.system.nextId();
    this.pending.set(id, { callback, periodic: true });
    this.send({ kind: 'ScheduleTimeout', id, delayMs: firstDelayMs, periodMs });
    return id;
  }

  cancel(id: TimeoutId): void {
    if (this.pending.delete(id)) this.send({ kind: 'CancelTimeout', id });
  }

  cancelAll(): void {
    for (const id of [...this.pending.keys()]) this.cancel(id);
  }
}
