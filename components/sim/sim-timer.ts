import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import { Timer, type TimeoutId } from '../timer/timer-port.js';
import type { FutureEvent } from './future-event-list.js';
import type { SimClock } from './sim-clock.js';

/** Timer in virtual time: each timeout is an event on the simulator's agenda. */
export class SimTimer extends ComponentDefinition {
  readonly timer = this.provides(Timer);
  private readonly active = new Map<TimeoutId, FutureEvent>();

  constructor(
    context: ComponentContext,
    private readonly clock: SimClock,
  ) {
    super(context);
    this.subscribe(this.timer, 'ScheduleTimeout', (request, origin) => {
      this.cancel(request.id);
      const fire = (): void => {
        if (request.periodMs === undefined) this.active.delete(request.id);
        else this.active.set(request.id, this.clock.after(request.periodMs, fire));
        this.clock.traceLine(`timeout ${request.id}`);
        this.answer(origin, { kind: 'Timeout', id: request.id });
      };
      this.active.set(request.id, this.clock.after(request.delayMs, fire));
    });
    this.subscribe(this.timer, 'CancelTimeout', (request) => this.cancel(request.id));
  }

  private cancel(id: TimeoutId): void {
    const event = this.active.get(id);
    if (event === undefined) return;
    event.cancelled = true;
    this.active.delete(id);
  }

  protected override onKill(): void {
    for (const event of this.active.values()) event.cancelled = true;
    this.active.clear();
  }
}
