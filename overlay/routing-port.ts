import { portType } from '../components/kernel/index.js';
import type { NodeId } from '../components/network/node-id.js';
import type { KvOperation, KvOutcome } from '../kv/kv-operation.js';
import type { ServedBy } from '../kv/kv-port.js';

/** A client operation on any key, from the node the client called. */
export interface Route {
  readonly kind: 'Route';
  readonly id: number;
  readonly operation: KvOperation;
}

export interface Routed {
  readonly kind: 'Routed';
  readonly id: number;
  readonly outcome: KvOutcome;
  readonly served: ServedBy;
  /** The group that owns the key, and the node whose replica answered. */
  readonly group: number;
  readonly node: NodeId;
}

/** Any key from any node: the overlay finds the key's group and brings the answer back. */
export const Routing = portType<Route, Routed>('Routing');
