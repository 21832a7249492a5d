import { portType } from '../components/kernel/index.js';
import type { NodeId } from '../components/network/node-id.js';

/**
 * What the overlay knows of the cluster: the leader of each group of its table, when known.
 * Reported each time that changes; the host serves /readyz and /cluster from it.
 */
export interface RoutingStatus {
  readonly kind: 'RoutingStatus';
  /** The version of the lookup table the overlay routes by. */
  readonly tableVersion: number;
  /** Each group of that table, with the leader this node knows of (null: none known). */
  readonly groups: readonly { readonly id: number; readonly leader: NodeId | null }[];
  /** Peer messages it dropped so far, by reason (kv/peer-rejections.ts). */
  readonly rejected: Readonly<Record<string, number>>;
}

export const RoutingStatusPort = portType<never, RoutingStatus>('RoutingStatus');
