import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import { Timer, type TimeoutId } from '../timer/timer-port.js';
import type { FutureEvent } from './future-event-list.js';
import type { NodeClock } from './node-clock.js';

/**
 * Timer in virtual time: each timeout is an event on the simulator's agenda, its delay scaled
 * by the node's timer rate (skew). A stalled node's timers behave as Node's do in a process
 * that was stopped: a timeout that falls due during the stall is delivered then, into the
 * stalled component's mailbox, so it runs late at the resume, in order with the messages that
 * arrived meanwhile; a periodic timer fires once for the whole stall and its next period
 * starts at the resume (as setInterval re-arms after its late callback), not once per missed
 * period.
 */
export class SimTimer extends ComponentDefinition {
  readonly timer = this.provides(Timer);
  /** Armed timeouts, or 'held': a periodic one waiting for the resume to re-arm. */
  private readonly active = new Map<TimeoutId, FutureEvent | 'held'>();

  constructor(
    context: ComponentContext,
    private readonly clock: NodeClock,
  ) {
    super(context);
    this.subscribe(this.timer, 'ScheduleTimeout', (request, origin) => {
      this.cancel(request.id);
      const { id, periodMs } = request;
      const rearm = (): void => {
        if (this.active.get(id) === 'held') this.active.set(id, this.clock.after(periodMs!, fire));
      };
      const fire = (): void => {
        if (periodMs === undefined) this.active.delete(id);
        else if (this.clock.stalled) {
          this.active.set(id, 'held');
          this.clock.whenResumed(rearm);
        } else this.active.set(id, this.clock.after(periodMs, fire));
        this.clock.traceLine(`timeout ${id}`);
        this.answer(origin, { kind: 'Timeout', id });
      };
      this.active.set(id, this.clock.after(request.delayMs, fire));
    });
    this.subscribe(this.timer, 'CancelTimeout', (request) => this.cancel(request.id));
  }

  private cancel(id: TimeoutId): void {
    const event = this.active.get(id);
    if (event === undefined) return;
    if (event !== 'held') event.cancelled = true;
    this.active.delete(id);
  }

  protected override onKill(): void {
    for (const event of this.active.values()) if (event !== 'held') event.cancelled = true;
    this.active.clear();
  }
}
