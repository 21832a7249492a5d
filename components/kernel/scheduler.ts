import Denque from 'denque';
import type { ComponentDefinition } from './component.js';

/** The kernel tells its scheduler when a component has work; the scheduler decides when it runs. */
export interface Scheduler {
  ready(component: ComponentDefinition): void;
}

/**
 * Components with work, in FIFO order. A component runs at most `eventsPerTurn` events per
 * turn and then goes to the back, so one busy component cannot starve the others.
 */
export class ReadyQueue implements Scheduler {
  private readonly queue = new Denque<ComponentDefinition>();

  constructor(private readonly eventsPerTurn = 32) {}

  ready(component: ComponentDefinition): void {
    component.queued = true;
    this.queue.push(component);
    this.onReady();
  }

  /** Hook for subclasses that drain on their own. */
  protected onReady(): void {}

  /**
   * Hook for subclasses that hold some components' work back: true when this scheduler took
   * `component` aside (it stays `queued`, so its new events do not queue it again).
   */
  protected holds(_component: ComponentDefinition): boolean {
    return false;
  }

  /** Queues components that were held, in the order given (they are still `queued`). */
  protected requeue(components: readonly ComponentDefinition[]): void {
    for (const component of components) this.queue.push(component);
    if (components.length > 0) this.onReady();
  }

  get idle(): boolean {
    return this.queue.length === 0;
  }

  /** One turn of `component`: at most `budget` of its events; returns how many ran. */
  protected executeTurn(component: ComponentDefinition, budget: number): number {
    return component.execute(budget);
  }

  /** Runs events until none are left or `budget` have run; returns how many ran. */
  run(budget: number): number {
    let ran = 0;
    const queue = this.queue;
    while (ran < budget) {
      const component = queue.shift();
      if (component === undefined) break;
      if (this.holds(component)) continue;
      component.queued = false;
      ran += this.executeTurn(component, this.eventsPerTurn);
      if (!component.queued && component.hasRunnableWork()) {
        component.queued = true;
        queue.push(component);
      }
    }
    return ran;
  }
}

/** A thread's scheduler times so far, in ms (node/thread-times.ts reads Linux's). */
export interface ThreadTimes {
  /** Running on a CPU. */
  onCpuMs: number;
  /** Runnable but waiting for a core (in the run queue). */
  waitingMs: number;
}

/** Told of each component turn on the live event loop that took `thresholdMs` or longer. */
export interface SlowTurnWatch {
  readonly thresholdMs: number;
  /** Reads the thread's times into `into`, before and after every turn, when given. */
  readonly threadClock?: (into: ThreadTimes) => void;
  /**
   * `kinds`: the kind of each event the turn ran, in order; `times`: the turn's own, with a
   * `threadClock` (both valid during the call only). What the wall time `ms` holds beyond the
   * two the thread was blocked: a page fault, a lock, a synchronous system call.
   */
  slow(
    component: ComponentDefinition,
    ms: number,
    kinds: readonly string[],
    times?: Readonly<ThreadTimes>,
  ): void;
}

/**
 * Runs components on Node's event loop. A drain starts in a microtask after the first ready
 * component and yields to I/O (setImmediate) after `eventsPerSlice` events, so sockets and
 * timers are served even while components are busy. With a `SlowTurnWatch`, each turn is
 * timed (two clock reads per turn of up to `eventsPerTurn` events, two more with a thread clock)
 * and its event kinds noted, so a handler that holds the event loop is named: every request
 * waiting behind it pays for it.
 */
export class LiveScheduler extends ReadyQueue {
  private draining = false;
  private readonly eventsPerSlice: number;
  private readonly slowTurns: SlowTurnWatch | null;
  /** The kinds of the events of the turn under way (reused: no allocation per turn). */
  private readonly turnKinds: string[] = [];
  /** The thread's times at the turn's start and end, and the turn's own (reused likewise). */
  private readonly timesAtStart: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };
  private readonly timesAtEnd: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };
  private readonly turnTimes: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };

  constructor(
    options: {
      readonly eventsPerTurn?: number;
      readonly eventsPerSlice?: number;
      readonly slowTurns?: SlowTurnWatch;
    } = {},
  ) {
    super(options.eventsPerTurn ?? 32);
    this.eventsPerSlice = options.eventsPerSlice ?? 20_000;
    this.slowTurns = options.slowTurns ?? null;
  }

  protected override executeTurn(component: ComponentDefinition, budget: number): number {
    if (this.slowTurns === null) return component.execute(budget);
    this.turnKinds.length = 0;
    const clock = this.slowTurns.threadClock;
    clock?.(this.timesAtStart);
    const started = performance.now();
    const ran = component.execute(budget, this.turnKinds);
    const ms = performance.now() - started;
    if (ms < this.slowTurns.thresholdMs) return ran;
    if (clock === undefined) {
      this.slowTurns.slow(component, ms, this.turnKinds);
      return ran;
    }
    clock(this.timesAtEnd);
    // Never more than the wall time between them: the clocks are read a few µs apart.
    const onCpuMs = Math.min(ms, this.timesAtEnd.onCpuMs - this.timesAtStart.onCpuMs);
    this.turnTimes.onCpuMs = onCpuMs;
    this.turnTimes.waitingMs = Math.min(
      ms - onCpuMs,
      this.timesAtEnd.waitingMs - this.timesAtStart.waitingMs,
    );
    this.slowTurns.slow(component, ms, this.turnKinds, this.turnTimes);
    return ran;
  }

  protected override onReady(): void {
    if (this.draining) return;
    this.draining = true;
    queueMicrotask(this.drain);
  }

  private readonly drain = (): void => {
    this.run(this.eventsPerSlice);
    if (this.idle) this.draining = false;
    else setImmediate(this.drain);
  };
}

/**
 * Runs components only when the simulator asks: all handler work happens in zero virtual
 * time between two timed events, in a deterministic order.
 */
export class SimScheduler extends ReadyQueue {
  /** Roots whose whole tree is paused (a stalled node), with the components they hold. */
  private readonly paused = new Map<ComponentDefinition, ComponentDefinition[]>();

  /**
   * Pauses `root`'s tree, as SIGSTOP or a long GC pause would: its events keep queueing in
   * its components' mailboxes but none runs until `resume`.
   */
  pause(root: ComponentDefinition): void {
    if (!this.paused.has(root)) this.paused.set(root, []);
  }

  /** Ends a pause: the held components run again, in the order they became ready. */
  resume(root: ComponentDefinition): void {
    const held = this.paused.get(root);
    if (held === undefined) return;
    this.paused.delete(root);
    this.requeue(held.filter((component) => component.lifecycle !== 'destroyed'));
  }

  isPaused(root: ComponentDefinition): boolean {
    return this.paused.has(root);
  }

  protected override holds(component: ComponentDefinition): boolean {
    if (this.paused.size === 0) return false;
    let root = component;
    while (root.parent !== null) root = root.parent;
    const held = this.paused.get(root);
    if (held === undefined) return false;
    held.push(component);
    return true;
  }

  /** Runs until no component has work. */
  runUntilIdle(): number {
    let total = 0;
    for (;;) {
      const ran = this.run(1_000_000);
      total += ran;
      if (this.idle) return total;
    }
  }
}
