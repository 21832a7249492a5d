import { PROPOSAL_PIECE_BYTES, PROPOSAL_PIECE_ENTRIES_COUNT } from '../components/limits.js';
import type { NodeId } from '../components/network/node-id.js';
import type { StoredEntry } from '../components/storage/index.js';
import type { Zxid } from '../kv/zxid.js';
import type { FollowerStatus } from './replica-status-port.js';
import type { SnapshotSender } from './snapshot-sender.js';
import type { SessionBody } from './zab-messages.js';

/** What a leader sends on a follower's session. */
export type LeaderOutgoing = SessionBody<
  | 'zab.LeaderInfo'
  | 'zab.Diff'
  | 'zab.Trunc'
  | 'zab.Snap'
  | 'zab.Proposal'
  | 'zab.NewLeader'
  | 'zab.UpToDate'
  | 'zab.Commit'
  | 'zab.Ping'
  | 'zab.ReadIndexReply'
>;

/** The leader's side of one follower's session (ZooKeeper's LearnerHandler). */
export interface LearnerHandler {
  readonly follower: NodeId;
  readonly session: number;
  /** Registered as a voter: only then does it count toward any quorum of this epoch. */
  readonly voter: boolean;
  readonly acceptedEpoch: number;
  phase:
    | 'registered'
    | 'epoch-sent'
    | 'epoch-acked'
    | 'snapshot-sent'
    | 'tail-sending'
    | 'newleader-sent'
    | 'synced';
  /** The snapshot being streamed to it (SNAP), until its last piece is acknowledged. */
  snapshot: SnapshotSender | null;
  /**
   * The log entries of its sync sent so far ('tail-sending'); the log after them is pinned.
   * `flushing`: the last piece sent waits to leave the process before the next is sent.
   */
  tail: { readonly sent: Zxid; readonly unpin: () => void; readonly flushing: boolean } | null;
  lastZxid: Zxid;
  /** What it holds as committed (its ACKEPOCH): no sync may take it below that. */
  committed: Zxid;
  epochEnds: readonly Zxid[];
  sendSeq: number;
  receiveSeq: number;
  /** Cumulative: the follower holds every proposal up to here durably. */
  acked: Zxid;
  /** The latest read-barrier round it answered. */
  pongRound: number;
  /**
   * Its store is below its free-space reserve, as its latest Pong said; null before one came
   * in this session (room not known).
   */
  spaceLow: boolean | null;
  /** Twice its reserve free, as its last Pong said; null before one came. */
  roomy: boolean | null;
  silentTicks: number;
}

/** The handler of a follower that just registered (FOLLOWERINFO). */
export function newLearnerHandler(
  info: { readonly src: NodeId; readonly session: number; readonly acceptedEpoch: number },
  voter: boolean,
): LearnerHandler {
  return {
    follower: info.src,
    session: info.session,
    voter,
    acceptedEpoch: info.acceptedEpoch,
    phase: 'registered',
    lastZxid: 0,
    committed: 0,
    epochEnds: [],
    sendSeq: 0,
    receiveSeq: 1,
    acked: 0,
    pongRound: 0,
    spaceLow: null,
    roomy: null,
    silentTicks: 0,
    snapshot: null,
    tail: null,
  };
}

/** Followers' sessions as the leader's status reports them. */
export function followerStatuses(handlers: Iterable<LearnerHandler>): FollowerStatus[] {
  return [...handlers].map((h) => ({
    node: h.follower,
    synced: h.phase === 'synced',
    ackedZxid: h.acked,
  }));
}

/** In the broadcast set: it receives every new proposal (from NEWLEADER on). */
export function receivesProposals(handler: LearnerHandler): boolean {
  return handler.phase === 'newleader-sent' || handler.phase === 'synced';
}

/** Counts toward the quorums of the established epoch (commits, the read barrier). */
export function countsInQuorum(handler: LearnerHandler): boolean {
  return handler.phase === 'synced' && handler.voter;
}

/** The largest value that at least a quorum of `values` reach (-1 if none). */
export function quorumValue(values: number[], isQuorum: (count: number) => boolean): number {
  values.sort((a, b) => b - a);
  for (let i = 0; i < values.length; i++) if (isQuorum(i + 1)) return values[i]!;
  return -1;
}

/**
 * Entries in wire form, in pieces of at most PROPOSAL_PIECE_ENTRIES_COUNT entries and
 * PROPOSAL_PIECE_BYTES of payload (a single larger entry goes alone): components/limits.ts
 * checks that such a piece fits in a peer frame.
 */
export function inPieces(entries: readonly StoredEntry[]): [number, Uint8Array][][] {
  const pieces: [number, Uint8Array][][] = [];
  let piece: [number, Uint8Array][] = [];
  let bytes = 0;
  for (const { zxid, payload } of entries) {
    const full =
      piece.length === PROPOSAL_PIECE_ENTRIES_COUNT ||
      bytes + payload.length > PROPOSAL_PIECE_BYTES;
    if (piece.length > 0 && full) {
      pieces.push(piece);
      piece = [];
      bytes = 0;
    }
    piece.push([zxid, payload]);
    bytes += payload.length;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}
