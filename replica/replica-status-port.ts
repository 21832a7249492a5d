import { portType } from '../components/kernel/index.js';
import type { NodeId } from '../components/network/node-id.js';
import type { Zxid } from '../kv/zxid.js';

/** One follower as its leader sees it (the leader's ReplicaStatus lists them). */
export interface FollowerStatus {
  readonly node: NodeId;
  /** Synced and in the broadcast set (it acknowledged NEWLEADER). */
  readonly synced: boolean;
  /** The highest proposal it holds durably, as it acknowledged. */
  readonly ackedZxid: Zxid;
}

/**
 * A replica's state as it reports it: when its role changes, and once a tick while anything
 * in it changed. The host serves /readyz, /cluster and /metrics from the last report; it
 * never reads the replica's fields.
 */
export interface ReplicaStatus {
  readonly kind: 'ReplicaStatus';
  readonly group: number;
  readonly node: NodeId;
  readonly role: 'starting' | 'looking' | 'following' | 'leading';
  /** An established leader, or a follower synced with one. */
  readonly serving: boolean;
  readonly leader: NodeId | null;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly lastZxid: Zxid;
  readonly committedZxid: Zxid;
  readonly appliedZxid: Zxid;
  /** Writes this replica proposed (or batched) as leader and has not answered. */
  readonly pendingProposals: number;
  /** The data in its applied state: key and value bytes (what the quota counts). */
  readonly dbBytes: number;
  /** The group's quota on that data (ReplicaConfig.quotaBytes). */
  readonly quotaBytes: number;
  /** As leader: its followers' sessions. Empty otherwise. */
  readonly followers: readonly FollowerStatus[];
  /** Peer messages it dropped so far, by reason (kv/peer-rejections.ts): a new object on change. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Times its committed history turned out not to be the group's and was replaced (follower.ts). */
  readonly divergences: number;
}

/** What a replica tells its host about itself. */
export const ReplicaStatusPort = portType<never, ReplicaStatus>('ReplicaStatus');
