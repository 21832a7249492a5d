import type { NodeId } from '../network/node-id.js';
import type { FutureEvent } from './future-event-list.js';
import type { SimClock } from './sim-clock.js';

/**
 * One node's view of virtual time, for its timer: the rate its timers run at (skew) and
 * whether the node is stalled. It outlives the node's incarnations, as a machine's clock does.
 *
 * `rate` scales every timer delay of the node as it is armed: 2 means its ticks come at half
 * speed, 0.5 at double speed. A timer already armed keeps its time; a periodic one takes the
 * new rate at its next period.
 */
export class NodeClock implements SimClock {
  private currentRate = 1;
  private stalledFlag = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly clock: SimClock,
    readonly node: NodeId,
  ) {}

  get now(): number {
    return this.clock.now;
  }

  get rate(): number {
    return this.currentRate;
  }

  set rate(rate: number) {
    if (!(rate > 0 && Number.isFinite(rate))) throw new RangeError(`bad timer rate ${rate}`);
    if (rate === this.currentRate) return;
    this.currentRate = rate;
    this.clock.traceLine(`timer rate ${this.node} x${rate}`);
  }

  /** The node is stalled: its components run nothing until it resumes. */
  get stalled(): boolean {
    return this.stalledFlag;
  }

  /** A timer delay of this node: scaled by its rate, a zero delay stays zero. */
  after(delayMs: number, action: () => void): FutureEvent {
    const scaled =
      delayMs === 0 || this.currentRate === 1
        ? delayMs
        : Math.max(1, Math.round(delayMs * this.currentRate));
    return this.clock.after(scaled, action);
  }

  traceLine(line: string): void {
    this.clock.traceLine(line);
  }

  /** Runs `action` when the node resumes (or crashes) from its current stall. */
  whenResumed(action: () => void): void {
    this.waiters.push(action);
  }

  /** @internal The simulator stalls the node. */
  stall(): void {
    this.stalledFlag = true;
  }

  /** @internal The simulator resumes the node (or the node crashed): waiters run in order. */
  resume(): void {
    this.stalledFlag = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
