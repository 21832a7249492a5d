import assert from 'node:assert/strict';
import Denque from 'denque';
import type { Logger } from 'pino';
import type { KEvent } from './event.js';
import {
  PortEnd,
  type ChannelSelector,
  type Handler,
  type Outlet,
  type PortType,
  type PortTypeKey,
  type Provided,
  type ProvidedRef,
  type ReplyTo,
  type Required,
  type RequiredRef,
} from './port.js';
import { Fault, type ControlEvent, type FaultAction, type LifecycleState } from './lifecycle.js';
import type { ComponentSystem } from './system.js';

/** What a component is constructed with, besides its own typed init. */
export interface ComponentContext {
  readonly system: ComponentSystem;
  readonly parent: ComponentDefinition | null;
}

export type ComponentClass<Init, C extends ComponentDefinition> = new (
  context: ComponentContext,
  init: Init,
) => C;

/** A connected channel; `disconnect()` cuts it in both directions. */
export interface Channel {
  disconnect(): void;
}

/**
 * The base of every component. A component owns ports, handles the events that arrive on
 * them one at a time and to completion, and triggers events on them. It never calls another
 * component directly: all interaction is events over channels, which is what lets the same
 * component run under the live scheduler or inside the deterministic simulator.
 *
 * Subclasses declare ports as fields (`readonly timer = this.requires(Timer)`), subscribe
 * handlers in the constructor, and put start-up actions in `onStart`.
 */
export abstract class ComponentDefinition {
  readonly id: number;
  readonly system: ComponentSystem;
  readonly parent: ComponentDefinition | null;
  readonly log: Logger;

  /** @internal */ state: LifecycleState = 'passive';
  /** @internal */ queued = false;
  /** Ordinary events, three slots each: destination end, event, origin end. */
  private readonly mailbox = new Denque<unknown>();
  private readonly control = new Denque<ControlEvent>();
  private readonly children = new Set<ComponentDefinition>();
  /** By polarity: a component may provide and require the same port type (an interceptor). */
  private readonly ports = {
    provided: new Map<PortTypeKey, PortEnd<KEvent, KEvent>>(),
    required: new Map<PortTypeKey, PortEnd<KEvent, KEvent>>(),
  };

  constructor(context: ComponentContext) {
    this.system = context.system;
    this.parent = context.parent;
    this.id = context.system.nextId();
    this.log = context.system.logger.child({ component: this.constructor.name, cid: this.id });
  }

  describe(): string {
    return `${this.constructor.name}#${this.id}`;
  }

  // ---- declaring ports --------------------------------------------------------------

  protected provides<Req extends KEvent, Ind extends KEvent>(
    type: PortType<Req, Ind>,
  ): Provided<Req, Ind> {
    return this.declarePort(type, 'provided') as unknown as Provided<Req, Ind>;
  }

  protected requires<Req extends KEvent, Ind extends KEvent>(
    type: PortType<Req, Ind>,
  ): Required<Req, Ind> {
    return this.declarePort(type, 'required') as unknown as Required<Req, Ind>;
  }

  private declarePort(type: PortTypeKey, polarity: 'provided' | 'required') {
    const ports = this.ports[polarity];
    assert(
      !ports.has(type),
      `${this.describe()} ${polarity === 'provided' ? 'provides' : 'requires'} ${type.name} twice`,
    );
    const end = new PortEnd<KEvent, KEvent>(this, type, polarity);
    ports.set(type, end);
    return end;
  }

  /** The outside of a port this component provides, for a parent to connect. */
  provided<Req extends KEvent, Ind extends KEvent>(
    type: PortType<Req, Ind>,
  ): ProvidedRef<Req, Ind> {
    return this.outside(type, 'provided') as ProvidedRef<Req, Ind>;
  }

  /** The outside of a port this component requires, for a parent to connect. */
  required<Req extends KEvent, Ind extends KEvent>(
    type: PortType<Req, Ind>,
  ): RequiredRef<Req, Ind> {
    return this.outside(type, 'required') as RequiredRef<Req, Ind>;
  }

  private outside(type: PortTypeKey, polarity: 'provided' | 'required'): unknown {
    const end = this.ports[polarity].get(type);
    if (end === undefined) {
      const other = polarity === 'provided' ? 'required' : 'provided';
      assert(!this.ports[other].has(type), `${this.describe()}'s ${type.name} is ${other}`);
      assert.fail(`${this.describe()} has no port ${type.name}`);
    }
    return end;
  }

  // ---- children and channels ------------------------------------------------------------

  /** Creates a child. It stays passive (its events wait) until this component starts it. */
  protected create<Init, C extends ComponentDefinition>(
    cls: ComponentClass<Init, C>,
    init: Init,
  ): C {
    assert(this.state !== 'destroyed', 'a destroyed component cannot create children');
    const child = new cls({ system: this.system, parent: this }, init);
    this.children.add(child);
    if (this.state === 'active') child.enqueueControl({ kind: 'Start' });
    return child;
  }

  /** Kills a child's subtree at once: its teardown runs, its channels are cut. */
  protected destroy(child: ComponentDefinition): void {
    assert(this.children.has(child), `${child.describe()} is not a child of ${this.describe()}`);
    child.destroyNow();
  }

  /** Connects a provided port to a required port of the same type. */
  protected connect<Req extends KEvent, Ind extends KEvent>(
    provided: ProvidedRef<Req, Ind>,
    required: RequiredRef<Req, Ind>,
    selector?: ChannelSelector<Req, Ind>,
  ): Channel {
    return connectPorts(provided, required, selector);
  }

  // ---- handlers and triggers --------------------------------------------------------

  protected subscribe<In extends KEvent, Out extends KEvent, K extends In['kind']>(
    port: PortEnd<In, Out>,
    kind: K,
    handler: Handler<Extract<In, { kind: K }>, Out>,
  ): void {
    assert(port.owner === this, 'a component subscribes only to its own ports');
    const list = port.handlers.get(kind) ?? [];
    port.handlers.set(kind, [...list, handler as unknown as Handler<KEvent, KEvent>]);
  }

  /** Subscribes one handler to every event kind arriving on `port`, after kind handlers. */
  protected subscribeAll<In extends KEvent, Out extends KEvent>(
    port: PortEnd<In, Out>,
    handler: Handler<In, Out>,
  ): void {
    assert(port.owner === this, 'a component subscribes only to its own ports');
    port.catchAll = [...port.catchAll, handler as unknown as Handler<KEvent, KEvent>];
  }

  protected unsubscribe<In extends KEvent, Out extends KEvent, K extends In['kind']>(
    port: PortEnd<In, Out>,
    kind: K,
    handler: Handler<Extract<In, { kind: K }>, Out>,
  ): void {
    const list = port.handlers.get(kind) ?? [];
    const next = list.filter((h) => h !== (handler as unknown));
    assert(next.length < list.length, `handler for ${kind} was not subscribed`);
    if (next.length === 0) port.handlers.delete(kind);
    else port.handlers.set(kind, next);
  }

  /** Sends an event out of one of this component's ports, along every channel that accepts it. */
  protected trigger<In extends KEvent, Out extends KEvent>(
    event: NoInfer<Out>,
    port: PortEnd<In, Out>,
  ): void {
    assert(port.owner === this, 'a component triggers only on its own ports');
    deliverThroughOutlets(event, port as unknown as PortEnd<KEvent, KEvent>);
  }

  /** Sends a response straight to the end a request came from, not to every channel. */
  protected answer<E extends KEvent>(origin: ReplyTo<E>, event: E): void {
    const end = origin as unknown as PortEnd<KEvent, KEvent>;
    end.owner.enqueue(end, event, null);
  }

  // ---- lifecycle hooks ------------------------------------------------------------------

  /** Runs as this component's first event once it is started. */
  protected onStart(): void {}
  /** Runs when the component is stopped; events wait until it is started again. */
  protected onStop(): void {}
  /** Runs when the component is killed (also on a simulated crash): release real resources. */
  protected onKill(): void {}
  /** Decides what happens to a child's fault. The default passes it up. */
  protected handleFault(_fault: Fault): FaultAction {
    return 'escalate';
  }
  /** Asserted after every handler when the system runs with invariant checking (tests, simulation). */
  checkInvariants?(): void;

  /** Requests start of this component and its subtree (used on the root). */
  start(): void {
    this.enqueueControl({ kind: 'Start' });
  }

  /** Requests stop: the subtree goes passive after its current event, events keep queueing. */
  stop(): void {
    this.enqueueControl({ kind: 'Stop' });
  }

  /** Kills this subtree now (Kompics' Kill, also used for a crash in simulation). */
  kill(): void {
    this.destroyNow();
  }

  get lifecycle(): LifecycleState {
    return this.state;
  }

  // ---- execution (called by the scheduler) ----------------------------------------------

  /** @internal */
  enqueue(
    to: PortEnd<KEvent, KEvent>,
    event: KEvent,
    origin: PortEnd<KEvent, KEvent> | null,
  ): void {
    if (this.state === 'destroyed' || this.state === 'faulty') return;
    this.mailbox.push(to);
    this.mailbox.push(event);
    this.mailbox.push(origin);
    if (!this.queued && this.state === 'active') this.system.scheduler.ready(this);
  }

  private enqueueControl(event: ControlEvent): void {
    if (this.state === 'destroyed') return;
    this.control.push(event);
    if (!this.queued) this.system.scheduler.ready(this);
  }

  /** @internal */
  hasRunnableWork(): boolean {
    return this.control.length > 0 || (this.state === 'active' && this.mailbox.length > 0);
  }

  /**
   * @internal Runs at most `budget` events; returns how many ran. `kinds`, if given, gets the
   * kind of each (a slow turn is reported with them).
   */
  execute(budget: number, kinds?: string[]): number {
    let ran = 0;
    const mailbox = this.mailbox;
    const check = this.system.checkInvariants && this.checkInvariants !== undefined;
    while (ran < budget) {
      if (this.control.length > 0) {
        const control = this.control.shift()!;
        kinds?.push(control.kind);
        this.runControl(control);
        ran++;
        continue;
      }
      if (this.state !== 'active' || mailbox.length === 0) break;
      const to = mailbox.shift() as PortEnd<KEvent, KEvent>;
      const event = mailbox.shift() as KEvent;
      const origin = mailbox.shift() as PortEnd<KEvent, KEvent>;
      ran++;
      kinds?.push(event.kind);
      const handlers = to.handlers.get(event.kind);
      const catchAll = to.catchAll;
      if (handlers === undefined && catchAll.length === 0) continue;
      this.system.onDispatch?.(this, event);
      try {
        if (handlers !== undefined) {
          for (let i = 0; i < handlers.length; i++) handlers[i]!(event, origin);
        }
        for (let i = 0; i < catchAll.length; i++) catchAll[i]!(event, origin);
        if (check) this.checkInvariants!();
      } catch (error) {
        this.fail(new Fault(error, this, event));
        break;
      }
    }
    return ran;
  }

  private runControl(event: ControlEvent): void {
    if (this.state === 'destroyed' || this.state === 'faulty') return;
    try {
      switch (event.kind) {
        case 'Start':
          assert.equal(this.state, 'passive', `${this.describe()} started twice`);
          this.state = 'active';
          for (const child of this.children) child.enqueueControl(event);
          this.onStart();
          return;
        case 'Stop':
          if (this.state !== 'active') return;
          this.state = 'passive';
          for (const child of this.children) child.enqueueControl(event);
          this.onStop();
          return;
        case 'ChildFault':
          this.resolveChildFault(event.fault);
          return;
      }
    } catch (error) {
      this.fail(new Fault(error, this, event.kind === 'ChildFault' ? event.fault.event : event));
    }
  }

  private resolveChildFault(fault: Fault): void {
    const action = this.handleFault(fault);
    switch (action) {
      case 'escalate':
        this.escalate(fault);
        return;
      case 'destroy':
        this.destroyChildContaining(fault.source);
        return;
      case 'resolved':
        return;
    }
  }

  private destroyChildContaining(source: ComponentDefinition): void {
    let node: ComponentDefinition | null = source;
    while (node !== null && node.parent !== this) node = node.parent;
    if (node !== null) node.destroyNow();
  }

  /** A handler threw: this subtree stops handling events and the parent decides. */
  private fail(fault: Fault): void {
    this.markFaulty();
    this.escalate(fault);
  }

  private escalate(fault: Fault): void {
    if (this.parent === null || this.parent.state === 'destroyed') this.system.rootFault(fault);
    else this.parent.enqueueControl({ kind: 'ChildFault', fault });
  }

  private markFaulty(): void {
    this.state = 'faulty';
    this.mailbox.clear();
    for (const child of this.children) child.markFaulty();
  }

  private destroyNow(): void {
    if (this.state === 'destroyed') return;
    for (const child of [...this.children].reverse()) child.destroyNow();
    try {
      this.onKill();
    } catch (error) {
      this.log.error({ err: error }, 'teardown failed');
    }
    this.state = 'destroyed';
    this.mailbox.clear();
    this.control.clear();
    for (const end of [...this.ports.provided.values(), ...this.ports.required.values()]) {
      for (const outlet of end.outlets) disconnectChannel(outlet.channel);
    }
    this.parent?.children.delete(this);
  }
}

// ---- channels -------------------------------------------------------------------------

interface ChannelRecord {
  readonly provided: PortEnd<KEvent, KEvent>;
  readonly required: PortEnd<KEvent, KEvent>;
}
const channels = new WeakMap<object, ChannelRecord>();

export function connectPorts<Req extends KEvent, Ind extends KEvent>(
  providedRef: ProvidedRef<Req, Ind>,
  requiredRef: RequiredRef<Req, Ind>,
  selector?: ChannelSelector<Req, Ind>,
): Channel {
  const provided = providedRef as unknown as PortEnd<KEvent, KEvent>;
  const required = requiredRef as unknown as PortEnd<KEvent, KEvent>;
  assert.equal(provided.polarity, 'provided');
  assert.equal(required.polarity, 'required');
  assert.equal(provided.type, required.type, 'a channel joins two ends of the same port type');
  const channel: Channel = { disconnect: () => disconnectChannel(channel) };
  channels.set(channel, { provided, required });
  const indications = (selector?.indications as Outlet['accepts']) ?? null;
  const requests = (selector?.requests as Outlet['accepts']) ?? null;
  provided.outlets = [...provided.outlets, { to: required, accepts: indications, channel }];
  required.outlets = [...required.outlets, { to: provided, accepts: requests, channel }];
  return channel;
}

function disconnectChannel(channel: object): void {
  const record = channels.get(channel);
  if (record === undefined) return;
  channels.delete(channel);
  record.provided.outlets = record.provided.outlets.filter((o) => o.channel !== channel);
  record.required.outlets = record.required.outlets.filter((o) => o.channel !== channel);
}

function deliverThroughOutlets(event: KEvent, from: PortEnd<KEvent, KEvent>): void {
  const outlets = from.outlets;
  for (let i = 0; i < outlets.length; i++) {
    const outlet = outlets[i]!;
    if (outlet.accepts !== null && !outlet.accepts(event)) continue;
    outlet.to.owner.enqueue(outlet.to, event, from);
  }
}
