import { portType } from '../kernel/index.js';
import type { NodeId, PeerAddress } from './node-id.js';

/**
 * The payload fields of every message kind that crosses the network, by kind. Each protocol
 * module adds its own kinds by augmenting this interface next to its message schemas
 * (see `defineMessages`), so `NetMessage` is the union of all of them and a handler
 * subscribed to `'fd.Heartbeat'` receives exactly that shape.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NetworkMessages {}

export type MessageKind = keyof NetworkMessages & string;

/** Every message names its kind, its sender and its destination (Kompics' Msg header). */
export interface Envelope<K extends string = string> {
  readonly kind: K;
  readonly src: NodeId;
  readonly dst: NodeId;
}

export type NetMessage = {
  [K in MessageKind]: Envelope<K> & Readonly<NetworkMessages[K]>;
}[MessageKind];

export type MessageOf<K extends MessageKind> = Extract<NetMessage, { kind: K }>;

/** Tells the network where peers listen; later entries for the same id replace earlier ones. */
export interface SetPeers {
  readonly kind: 'SetPeers';
  readonly peers: readonly PeerAddress[];
}

/**
 * The connection from `peer` closed (the peer crashed, stopped, or the link broke): messages
 * it sent or was sent may be lost, so sessions over this link are over. Loss without this
 * indication is still possible (a partition only stalls a connection).
 */
export interface LinkDown {
  readonly kind: 'LinkDown';
  readonly peer: NodeId;
}

/**
 * Asks the network to hand every message requested before this one to the operating system
 * (on a connected link; one still dialling keeps its queue). Answered with `Flushed` to the
 * asker alone: a node that is about to close its sockets waits for it, so its last messages
 * (a leader's Close to its followers) leave instead of dying in a buffer. Flushed says the
 * bytes left the process, not that the peer read them. With `peer`, only what was sent to that
 * peer counts (a sync paced by its follower's socket must not wait for a stopped other peer's).
 */
export interface Flush {
  readonly kind: 'Flush';
  readonly peer?: NodeId;
}

export interface Flushed {
  readonly kind: 'Flushed';
  /** The Flush's `peer`, if it named one. */
  readonly peer?: NodeId;
}

/**
 * Requests are messages to send (plus address updates and Flush); indications are messages
 * received (plus LinkDown, and Flushed to the one who asked).
 * Delivery is FIFO per ordered pair of nodes with no duplicates, but not reliable: a message
 * may be lost when a link breaks or is partitioned, so protocols detect gaps themselves.
 * A message whose `dst` is the sender is delivered locally, without encoding.
 */
export const Network = portType<NetMessage | SetPeers | Flush, NetMessage | LinkDown | Flushed>(
  'Network',
);
