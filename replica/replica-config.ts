import {
  DEFAULT_QUOTA_BYTES,
  FORWARDED_REQUEST_TIMEOUT_MS,
  MAX_OUTSTANDING_PROPOSALS_COUNT,
  SYNC_BACKLOG_BYTES,
} from '../components/limits.js';
import type { NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import type { StateStore } from '../state/state-store.js';
import type { ReplicaObserver } from './replica-observer.js';

/** Settings of one replica of one group. Times are in ticks of `tickMs`, as ZooKeeper counts them. */
export interface ReplicaConfig {
  readonly group: number;
  readonly self: NodeId;
  /** Every voting member of the group, this node included. */
  readonly members: readonly NodeId[];
  /** The heartbeat: pings, silence checks and timeouts all count in ticks. */
  readonly tickMs: number;
  /** Ticks a leader has to gather its quorum through discovery and sync (initLimit). */
  readonly initLimitTicks: number;
  /** Ticks of silence after which a leader drops a follower and a follower its leader (syncLimit). */
  readonly syncLimitTicks: number;
  /** How long a node with a quorum for its proposal waits for a better vote (finalizeWait). */
  readonly finalizeWaitMs: number;
  /** Ticks between election retransmissions at first; doubles up to `maxVoteResendTicks`. */
  readonly voteResendTicks: number;
  readonly maxVoteResendTicks: number;
  /** Ticks a forwarded request may wait for its answer before it is reported unknown (504). */
  readonly requestTimeoutTicks: number;
  /** Committed entries between snapshots: between half of this and this, drawn at random. */
  readonly snapshotEvery: number;
  /** Log entries kept behind a snapshot, so a follower a little behind still gets a DIFF. */
  readonly retainEntries: number;
  /** Proposals the leader may have outstanding before it answers 503 (back-pressure). */
  readonly maxOutstanding: number;
  /**
   * Log bytes a follower's sync may still have to receive (the log after its snapshot, or
   * after what its tail has sent): the leader holds them in memory, so past this the sync ends
   * and the follower starts over from a newer state.
   */
  readonly syncBacklogBytes: number;
  /** The counter value that forces a new epoch (ZooKeeper: 0xffffffff). Lower only in tests. */
  readonly counterLimit: number;
  /**
   * The group's data (key and value bytes, kv-state-machine.ts) a leader lets writes grow to:
   * a write that would take it past this is answered 507 before it is proposed.
   */
  readonly quotaBytes: number;
}

export interface ReplicaInit extends ReplicaConfig {
  /** The group's applied state: lmdb on a node, in memory in simulation (state/). */
  readonly state: StateStore;
  /** Session ids and nothing else; seeded, so simulations replay. */
  readonly random: SeededRandom;
  readonly observer?: ReplicaObserver;
}

const TICK_MS = 100;

export const DEFAULT_REPLICA_TIMING = {
  tickMs: TICK_MS,
  // A crashed peer is noticed at once (its TCP connection closes: LinkDown); these limits
  // are for a peer that is silent but connected. 0.5 s of silence was too short: a follower's
  // pong can queue behind megabytes of forwarded values on the same connection. ZooKeeper's
  // defaults are 20 s and 10 s.
  initLimitTicks: 100,
  syncLimitTicks: 20,
  finalizeWaitMs: 50,
  voteResendTicks: 2,
  maxVoteResendTicks: 20,
  requestTimeoutTicks: FORWARDED_REQUEST_TIMEOUT_MS / TICK_MS,
  // Half ZooKeeper's snapCount: a checkpoint here is an lmdb flush, not a snapshot file, and
  // the log between two is held in memory (bench:scale's heap, 2026-11-30).
  snapshotEvery: 50_000,
  retainEntries: 5_000,
  maxOutstanding: MAX_OUTSTANDING_PROPOSALS_COUNT,
  syncBacklogBytes: SYNC_BACKLOG_BYTES,
  counterLimit: 0xffff_ffff,
  quotaBytes: DEFAULT_QUOTA_BYTES,
} as const;
