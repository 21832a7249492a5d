import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import {
  ComponentSystem,
  SimScheduler,
  leaf,
  type ComponentDefinition,
  type Fault,
  type Leaf,
} from '../kernel/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { MessageCatalogue } from '../network/message-catalogue.js';
import type { NodeId } from '../network/node-id.js';
import { FutureEventList, type FutureEvent } from './future-event-list.js';
import { RELIABLE_LAN, SimFabric, type LinkModel } from './sim-fabric.js';
import { SimNetwork } from './sim-network.js';
import { SimTimer } from './sim-timer.js';
import { NodeClock } from './node-clock.js';
import type { SimClock } from './sim-clock.js';
import { Trace } from './trace.js';

export interface SimulatorOptions {
  readonly seed: number;
  readonly link?: LinkModel;
  /** Encode, decode and validate every message as TCP would (catches unencodable messages). */
  readonly catalogue?: MessageCatalogue;
  /** Call each component's `checkInvariants()` after every handler. Default true. */
  readonly checkInvariants?: boolean;
  /** Record every handler dispatch in the trace, not only network and timer events. Default true. */
  readonly traceDispatch?: boolean;
  readonly logger?: Logger;
}

/** What a node's factory gets: the simulated leaves to build its host from. */
export interface SimNodeEnvironment {
  readonly id: NodeId;
  readonly system: ComponentSystem;
  readonly network: Leaf;
  readonly timer: Leaf;
  /** Independent stream per node and incarnation. */
  readonly random: SeededRandom;
  /** 1 for the first start, +1 per restart. */
  readonly incarnation: number;
}

/** Builds (does not start) the root component of one node. */
export type NodeFactory = (env: SimNodeEnvironment) => ComponentDefinition;

interface SimNode {
  readonly factory: NodeFactory;
  /** The node's timer clock: its rate and stalls; it outlives incarnations, as a machine's does. */
  readonly clock: NodeClock;
  root: ComponentDefinition | null;
  incarnation: number;
  /** The scheduled end of the current stall, if the node is stalled. */
  stall: { readonly until: number; readonly end: FutureEvent } | null;
}

/** A fault reached the top of a simulated node: a bug. Carries the seed to replay it. */
export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    readonly error: unknown,
    readonly traceTail: readonly string[],
  ) {
    const why = error instanceof Error ? error.message : String(error);
    super(`simulation failed (ZABKV_SEED=${seed}): ${why}`, { cause: error });
  }
}

/**
 * A whole cluster in one process under virtual time. Component work runs in zero virtual time
 * between timed events (message arrivals, timeouts, scripted faults), taken from one agenda
 * in (time, sequence) order; every random choice comes from the seed. The same seed therefore
 * gives the same trace, byte for byte.
 */
export class Simulator implements SimClock {
  readonly seed: number;
  readonly random: SeededRandom;
  readonly system: ComponentSystem;
  readonly fabric: SimFabric;
  readonly trace = new Trace();
  readonly logger: Logger;
  private currentTime = 0;
  private readonly agenda = new FutureEventList();
  private readonly scheduler = new SimScheduler();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly faults: Fault[] = [];

  constructor(options: SimulatorOptions) {
    this.seed = options.seed;
    this.random = new SeededRandom(options.seed);
    this.logger =
      options.logger ??
      pino({
        level: process.env['LOG_LEVEL'] ?? 'silent',
        timestamp: () => `,"vt":${this.currentTime}`,
      });
    const traceDispatch = options.traceDispatch ?? true;
    this.system = new ComponentSystem({
      scheduler: this.scheduler,
      logger: this.logger,
      checkInvariants: options.checkInvariants ?? true,
      onRootFault: (fault) => this.faults.push(fault),
      onDispatch: traceDispatch
        ? (component, event) =>
            this.trace.record(`${this.currentTime} ${component.id} ${event.kind}`)
        : undefined,
    });
    this.fabric = new SimFabric(
      this,
      this.random.fork('network'),
      options.link ?? RELIABLE_LAN,
      options.catalogue,
    );
  }

  get now(): number {
    return this.currentTime;
  }

  after(delayMs: number, action: () => void): FutureEvent {
    assert(delayMs >= 0 && Number.isFinite(delayMs), `bad delay ${delayMs}`);
    return this.agenda.add(this.currentTime + delayMs, action);
  }

  at(timeMs: number, action: () => void): FutureEvent {
    return this.after(Math.max(0, timeMs - this.currentTime), action);
  }

  traceLine(line: string): void {
    this.trace.record(`${this.currentTime} ${line}`);
  }

  // ---- nodes ------------------------------------------------------------------------------

  /** Adds a node and starts it now. */
  addNode(id: NodeId, factory: NodeFactory): void {
    assert(!this.nodes.has(id), `node ${id} added twice`);
    const node: SimNode = {
      factory,
      clock: new NodeClock(this, id),
      root: null,
      incarnation: 0,
      stall: null,
    };
    this.nodes.set(id, node);
    this.boot(id, node);
  }

  nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  isUp(id: NodeId): boolean {
    return this.nodes.get(id)?.root != null;
  }

  /** The running root of a node, for tests to inspect (never to call into). */
  rootOf(id: NodeId): ComponentDefinition | null {
    return this.nodes.get(id)?.root ?? null;
  }

  /** Stops a node at once, as power loss would: its components are killed, in-flight messages to it lost. */
  crash(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    if (node.root === null) return;
    this.traceLine(`crash ${id}`);
    const root = node.root;
    root.kill();
    node.root = null;
    // A stopped process can be killed: the stall ends with it, nothing it held runs.
    this.endStall(node, root);
    this.fabric.detach(id);
  }

  /**
   * Stalls a running node for `durationMs`, as SIGSTOP or a long GC pause would: its handlers
   * do not run, its timers do not fire, and what comes to it (messages, storage completions,
   * client requests, timeouts falling due) waits in its components' mailboxes. At the resume
   * everything waiting runs in the order it came; overdue timers fire late, once (SimTimer).
   * Work that was already outside the node goes on: messages it sent travel, its disk
   * completes a flush. Stalling a stalled node extends the stall to the later end.
   */
  stall(id: NodeId, durationMs: number): void {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    assert(durationMs > 0 && Number.isFinite(durationMs), `bad stall ${durationMs}`);
    if (node.root === null) return;
    const until = this.currentTime + durationMs;
    if (node.stall !== null) {
      if (until <= node.stall.until) return;
      node.stall.end.cancelled = true;
    } else {
      this.scheduler.pause(node.root);
      node.clock.stall();
    }
    this.traceLine(`stall ${id} until ${until}`);
    node.stall = { until, end: this.after(durationMs, () => this.resume(id)) };
  }

  /** Ends a node's stall now (it would end on its own at the time `stall` was given). */
  resume(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    if (node.stall === null || node.root === null) return;
    this.traceLine(`resume ${id}`);
    this.endStall(node, node.root);
  }

  isStalled(id: NodeId): boolean {
    return this.nodes.get(id)?.stall != null;
  }

  /**
   * Sets how fast a node's timers run relative to virtual time (skew): every delay it arms
   * from now on is multiplied by `rate` (2: ticks at half speed; 0.5: at double speed).
   * Timers already armed keep their time. The rate survives restarts, as a machine's would.
   */
  setTimerRate(id: NodeId, rate: number): void {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    node.clock.rate = rate;
  }

  timerRate(id: NodeId): number {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node.clock.rate;
  }

  private endStall(node: SimNode, root: ComponentDefinition): void {
    if (node.stall === null) return;
    node.stall.end.cancelled = true;
    node.stall = null;
    // Periodic timers re-arm from now, then the held components run, in the order they came.
    node.clock.resume();
    this.scheduler.resume(root);
  }

  /** Starts a crashed node again from its factory (durable state is the factory's business). */
  restart(id: NodeId): void {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    if (node.root !== null) return;
    this.traceLine(`restart ${id}`);
    this.boot(id, node);
  }

  private boot(id: NodeId, node: SimNode): void {
    node.incarnation++;
    const root = node.factory({
      id,
      system: this.system,
      network: leaf(SimNetwork, { self: id, fabric: this.fabric }),
      timer: leaf(SimTimer, node.clock),
      random: this.random.fork(`node-${id}-${node.incarnation}`),
      incarnation: node.incarnation,
    });
    node.root = root;
    root.start();
  }

  // ---- running ----------------------------------------------------------------------------

  /** Runs component work, then the next timed event. False when nothing is left to do. */
  step(): boolean {
    this.scheduler.runUntilIdle();
    this.throwIfFaulted();
    const next = this.agenda.pop();
    if (next === undefined) return false;
    this.currentTime = next.time;
    // Everything already due at this instant happens before the components run, as a burst
    // of frames read from one socket would: this is what lets protocols batch.
    const horizon = this.agenda.nextSeq;
    next.action();
    for (
      let due = this.agenda.peek();
      due?.time === next.time && due.seq < horizon;
      due = this.agenda.peek()
    ) {
      this.agenda.pop()!.action();
    }
    this.scheduler.runUntilIdle();
    this.throwIfFaulted();
    return true;
  }

  /** Runs until virtual time `ms` from now (events at exactly that time included). */
  runFor(ms: number): void {
    const end = this.currentTime + ms;
    for (;;) {
      this.scheduler.runUntilIdle();
      this.throwIfFaulted();
      const next = this.agenda.peek();
      if (next === undefined || next.time > end) break;
      this.step();
    }
    this.currentTime = end;
  }

  /** Runs until `condition` holds (checked after every step) or `maxMs` pass; returns whether it held. */
  runUntil(condition: () => boolean, maxMs: number): boolean {
    const end = this.currentTime + maxMs;
    this.scheduler.runUntilIdle();
    this.throwIfFaulted();
    while (!condition()) {
      const next = this.agenda.peek();
      if (next === undefined || next.time > end) {
        this.currentTime = Math.max(this.currentTime, end);
        return condition();
      }
      this.step();
    }
    return true;
  }

  private throwIfFaulted(): void {
    if (this.faults.length === 0) return;
    const fault = this.faults[0]!;
    throw new SimulationFailure(this.seed, fault.error, [
      ...this.trace.lastLines(),
      `fault: ${fault.describe()}`,
    ]);
  }
}
