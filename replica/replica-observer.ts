import type { NodeId } from '../components/network/node-id.js';
import type { Zxid } from '../kv/zxid.js';

/**
 * What a replica reports as it happens, for the simulation's global invariant checks and for
 * metrics. Called synchronously from handlers; must not call back into the replica.
 */
export interface ReplicaObserver {
  /** A leader got its NEWLEADER quorum: it leads `epoch`. */
  established?(node: NodeId, epoch: number): void;
  /** The state machine was (re)built from a snapshot at `zxid` (start, SNAP sync). */
  restored?(node: NodeId, zxid: Zxid): void;
  /** `zxid` was applied to the state machine as committed. */
  applied?(node: NodeId, zxid: Zxid, payload: Uint8Array): void;
  /** This node is about to acknowledge holding everything up to `zxid` durably. */
  acknowledging?(node: NodeId, zxid: Zxid): void;
  /** A leader stepped down with `count` proposals whose outcome is now unknown. */
  failed?(node: NodeId, count: number): void;
  /** The role changed (for metrics: leader changes, has-leader). */
  role?(node: NodeId, role: 'looking' | 'following' | 'leading', epoch: number): void;
}
