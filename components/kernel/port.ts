import type { KEvent } from './event.js';
import type { ComponentDefinition } from './component.js';

/**
 * A port type names two event sets: requests travel toward the provider, indications travel
 * from it. It carries no runtime data beyond its name; the sets live in the type parameters,
 * which is what lets the compiler reject an event sent or handled in the wrong direction.
 */
/** What the kernel keeps of a port type at runtime: its identity and name. */
export interface PortTypeKey {
  readonly name: string;
}

export interface PortType<Req extends KEvent, Ind extends KEvent> extends PortTypeKey {
  /** Phantom: makes PortType invariant in both sets. Never set at runtime. */
  readonly _events?: (req: Req, ind: Ind) => [Req, Ind];
}

export function portType<Req extends KEvent, Ind extends KEvent>(name: string): PortType<Req, Ind> {
  return { name };
}

export type RequestOf<P> = P extends PortType<infer R, KEvent> ? R : never;
export type IndicationOf<P> = P extends PortType<KEvent, infer I> ? I : never;

export type Polarity = 'provided' | 'required';

/** A handler receives the event and the end it came from, to `answer` it directly. */
export type Handler<E extends KEvent, Back extends KEvent> = (
  event: E,
  origin: ReplyTo<Back>,
) => void;

/** An end that will receive events of type E when answered (Kompics' Direct.Response). */
export interface ReplyTo<E extends KEvent> {
  readonly _in: (event: E) => void;
}

/**
 * Where an event triggered on a port end goes: the far end of one channel, optionally
 * filtered by that channel's selector.
 */
export interface Outlet {
  readonly to: PortEnd<KEvent, KEvent>;
  readonly accepts: ((event: KEvent) => boolean) | null;
  readonly channel: object;
}

/**
 * One end of a port, as seen from inside its component: it receives `In` (handled by
 * subscribed handlers) and sends `Out` (triggered). A provided port receives requests and
 * sends indications; a required port the reverse.
 */
export class PortEnd<In extends KEvent, Out extends KEvent> implements ReplyTo<In> {
  declare readonly _in: (event: In) => void;
  declare readonly _out: Out;
  /** Handlers by event kind. Arrays are replaced, never mutated, so dispatch can iterate safely. */
  readonly handlers = new Map<string, readonly Handler<KEvent, KEvent>[]>();
  /** Handlers for every kind (e.g. a network that sends whatever message it is given). */
  catchAll: readonly Handler<KEvent, KEvent>[] = [];
  outlets: readonly Outlet[] = [];

  constructor(
    readonly owner: ComponentDefinition,
    readonly type: PortTypeKey,
    readonly polarity: Polarity,
  ) {}
}

/** Inside view of a port this component provides: handle `Req`, trigger `Ind`. */
export type Provided<Req extends KEvent, Ind extends KEvent> = PortEnd<Req, Ind>;
/** Inside view of a port this component requires: handle `Ind`, trigger `Req`. */
export type Required<Req extends KEvent, Ind extends KEvent> = PortEnd<Ind, Req>;

/**
 * Outside views, for the parent that wires children together. They can be connected, not
 * triggered or subscribed: only the owning component acts on its ports.
 */
export interface ProvidedRef<Req extends KEvent, Ind extends KEvent> {
  readonly polarity: 'provided';
  readonly type: PortTypeKey;
  readonly _ref?: (req: Req, ind: Ind) => void;
}
export interface RequiredRef<Req extends KEvent, Ind extends KEvent> {
  readonly polarity: 'required';
  readonly type: PortTypeKey;
  readonly _ref?: (req: Req, ind: Ind) => void;
}

/**
 * A channel selector decides, per event, whether the event travels along this channel
 * (e.g. only messages for one node, or only one replication group's traffic).
 */
export interface ChannelSelector<Req extends KEvent, Ind extends KEvent> {
  readonly requests?: (event: Req) => boolean;
  readonly indications?: (event: Ind) => boolean;
}
