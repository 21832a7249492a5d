import { Type } from '@sinclair/typebox';
import { MAX_EPOCH_ENDS_COUNT, MAX_SNAP_PIECE_BYTES } from '../components/limits.js';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';
import type { MessageKind, MessageOf } from '../components/network/network-port.js';

const zxid = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const epoch = Type.Integer({ minimum: 0, maximum: 0x1f_ffff });
const count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const group = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });
const entry = Type.Tuple([zxid, Type.Uint8Array()]);

/**
 * A leader–follower connection: every message on it names the session (chosen by the
 * follower when it registers) and carries a sequence number per direction, so a lost message
 * is seen as a gap and ends the session, as a broken TCP connection would (DESIGN §4).
 */
const session = { group, session: count, seq: count };

/** Peer states in election notifications, as FastLeaderElection's ServerState. */
export const LOOKING = 0;
export const FOLLOWING = 1;
export const LEADING = 2;

export const zabMessages = defineMessages({
  /** Fast Leader Election notification: the sender's current vote and state. */
  'zab.Vote': Type.Object({
    group,
    leader: Type.Integer({ minimum: 0 }),
    zxid,
    peerEpoch: epoch,
    round: count,
    state: Type.Union([Type.Literal(LOOKING), Type.Literal(FOLLOWING), Type.Literal(LEADING)]),
    /** False for a node with a wiped or damaged disk: its vote never counts (ZOOKEEPER-261). */
    voter: Type.Boolean(),
    /** The candidate's disk was below its reserve (election.ts, `beats`). */
    spaceLow: Type.Boolean(),
  }),
  /** Follower → leader, opens a session. */
  'zab.FollowerInfo': Type.Object({ ...session, acceptedEpoch: epoch, voter: Type.Boolean() }),
  'zab.LeaderInfo': Type.Object({ ...session, epoch }),
  /** `currentEpoch` is -1 when the follower had already accepted this epoch. */
  'zab.AckEpoch': Type.Object({
    ...session,
    currentEpoch: Type.Integer({ minimum: -1, maximum: 0x1f_ffff }),
    lastZxid: zxid,
    /**
     * What the follower holds as committed (applied): a sync that would truncate below it means
     * its history diverged from the group's, and it gets a snapshot instead (sync-plan.ts).
     */
    committed: zxid,
    /** The last zxid of each epoch in the follower's history, ascending: finds the common prefix. */
    epochEnds: Type.Array(zxid, { maxItems: MAX_EPOCH_ENDS_COUNT }),
  }),
  /** Sync: the follower's history up to `zxid` is the leader's; entries follow. */
  'zab.Diff': Type.Object({ ...session, zxid }),
  /** Sync: drop everything above `zxid`, then entries follow. */
  'zab.Trunc': Type.Object({ ...session, zxid }),
  /**
   * Sync: piece number `piece` of the applied state at `zxid` (entries in key order), sent a few
   * ahead of the follower's SNAPACKs; entries follow once the last piece is acknowledged.
   */
  'zab.Snap': Type.Object({
    ...session,
    zxid,
    piece: count,
    last: Type.Boolean(),
    data: Type.Uint8Array({ maxByteLength: MAX_SNAP_PIECE_BYTES }),
  }),
  /** The follower took snapshot piece `piece` (the last one: and holds the whole state durably). */
  'zab.SnapAck': Type.Object({ ...session, zxid, piece: count }),
  /** Entries in log form (log-entry.ts): each names the replica that answers its client. */
  'zab.Proposal': Type.Object({ ...session, entries: Type.Array(entry, { minItems: 1 }) }),
  'zab.NewLeader': Type.Object({ ...session, epoch }),
  /** Cumulative: the follower holds every proposal up to `zxid` durably. Counter 0: NEWLEADER. */
  'zab.Ack': Type.Object({ ...session, zxid }),
  /** The follower is synced; everything up to `committed` is committed. */
  'zab.UpToDate': Type.Object({ ...session, committed: zxid }),
  /** Cumulative commit point. */
  'zab.Commit': Type.Object({ ...session, zxid }),
  /** Liveness and the read barrier: a quorum answering round R proves leadership after R was sent. */
  'zab.Ping': Type.Object({ ...session, round: count }),
  /** `spaceLow`: the follower's store is below its free-space reserve (the leader answers 507). */
  'zab.Pong': Type.Object({
    ...session,
    round: count,
    spaceLow: Type.Boolean(),
    /** Twice its reserve free: room to take over a low leader's writes (leader.ts). */
    roomy: Type.Boolean(),
  }),
  /**
   * Follower → leader: what must a read that arrived before this request see? The leader
   * answers once a quorum confirms it still leads (etcd's ReadIndex), so the follower can
   * serve linearizable reads from its own state once it has applied `zxid`.
   */
  'zab.ReadIndex': Type.Object({ ...session, round: count }),
  'zab.ReadIndexReply': Type.Object({ ...session, round: count, zxid }),
  /** Either side ends the session (best effort; silence ends it too). */
  'zab.Close': Type.Object({ group, session: count }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof zabMessages> {}
}

/** A session message as a role writes it: the replica adds the addressing and the framing. */
export type SessionBody<K extends MessageKind> = K extends MessageKind
  ? Omit<MessageOf<K>, 'src' | 'dst' | 'group' | 'session' | 'seq'>
  : never;
