import { ComponentDefinition, type ComponentContext, type ReplyTo } from '../kernel/index.js';
import { Timer, type TimeoutId, type TimerIndication } from './timer-port.js';

const probe = setImmediate(() => {});
clearImmediate(probe);
const Immediate = probe.constructor as new () => NodeJS.Immediate;

/** Timer on Node's timers. Owns real timers, so it is a leaf: never used inside the simulator. */
export class LiveTimer extends ComponentDefinition {
  readonly timer = this.provides(Timer);
  private readonly active = new Map<TimeoutId, NodeJS.Timeout | NodeJS.Immediate>();

  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.timer, 'ScheduleTimeout', (request, origin) => {
      this.clear(request.id);
      const fire = this.firer(request.id, origin, request.periodMs === undefined);
      // A zero delay means "once the events at hand are handled" (e.g. to close a batch):
      // setImmediate runs after the current I/O burst, setTimeout(0) would add a millisecond.
      const handle =
        request.periodMs === undefined
          ? request.delayMs === 0
            ? setImmediate(fire)
            : setTimeout(fire, request.delayMs)
          : setTimeout(() => {
              fire();
              if (this.active.has(request.id)) {
                this.active.set(request.id, setInterval(fire, request.periodMs));
              }
            }, request.delayMs);
      this.active.set(request.id, handle);
    });
    this.subscribe(this.timer, 'CancelTimeout', (request) => this.clear(request.id));
  }

  private firer(id: TimeoutId, origin: ReplyTo<TimerIndication>, oneShot: boolean) {
    return () => {
      if (oneShot) this.active.delete(id);
      this.answer(origin, { kind: 'Timeout', id });
    };
  }

  private clear(id: TimeoutId): void {
    const handle = this.active.get(id);
    if (handle === undefined) return;
    if (handle instanceof Immediate) clearImmediate(handle);
    else clearTimeout(handle);
    this.active.delete(id);
  }

  protected override onKill(): void {
    for (const id of [...this.active.keys()]) this.clear(id);
    this.active.clear();
  }
}
