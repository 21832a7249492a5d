import type { NodeId } from '../components/network/node-id.js';
import type { KeyRange } from '../bootstrap/lookup-table.js';
import type { Zxid } from '../kv/zxid.js';

/**
 * The `GET /cluster` document (DESIGN §7): the node's lookup table, each group's members and
 * the leader this node knows of, and for the node's own group what its replica reports.
 * `zabkv status` reads the same type, so a field renamed here breaks the reader at compile time.
 */
export type ClusterStatus = UnformedCluster | FormedCluster;

/** No lookup table yet: the bootstrap node is still waiting for check-ins. */
export interface UnformedCluster {
  readonly formed: false;
  /** The node that answered. */
  readonly node: NodeId;
}

export interface FormedCluster {
  readonly formed: true;
  readonly node: NodeId;
  /** The lookup table's version. */
  readonly version: number;
  readonly groups: readonly GroupStatus[];
}

export interface MemberStatus {
  readonly id: NodeId;
  /** Where the member serves HTTP; absent when the table has no address for it. */
  readonly http?: { readonly host: string; readonly port: number };
}

/** One follower as its leader sees it. */
export interface FollowerView {
  readonly node: NodeId;
  /** Synced and in the broadcast set. */
  readonly synced: boolean;
  /** The highest proposal it acknowledged holding durably. */
  readonly ackedZxid: Zxid;
}

/**
 * One group. The fields after `leader` are present only for the answering node's own group
 * (it hears them from its replica) and only once the replica has reported.
 */
export interface GroupStatus {
  readonly id: number;
  readonly ranges: readonly KeyRange[];
  readonly members: readonly MemberStatus[];
  /** The leader this node knows of; null when it knows none. */
  readonly leader: NodeId | null;
  readonly role?: 'starting' | 'looking' | 'following' | 'leading';
  readonly acceptedEpoch?: number;
  /** The epoch of the leader this replica last followed or led (ZooKeeper's currentEpoch). */
  readonly epoch?: number;
  readonly lastZxid?: Zxid;
  readonly committedZxid?: Zxid;
  readonly appliedZxid?: Zxid;
  /** Key and value bytes in this replica's applied state, and the group's quota on them. */
  readonly dbBytes?: number;
  readonly quotaBytes?: number;
  /** As leader: its followers. */
  readonly followers?: readonly FollowerView[];
}
