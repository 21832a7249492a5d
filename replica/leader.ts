import assert from 'node:assert/strict';
import type { MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { StoredEntry } from '../components/storage/index.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import type { Reply, ReplicaCore } from './replica-core.js';
import { planSync } from './sync-plan.js';
import { counterOf, epochOf, formatZxid, makeZxid, type Zxid } from '../kv/zxid.js';

/** The leader's side of one follower's session (ZooKeeper's LearnerHandler). */
interface LearnerHandler {
  readonly follower: NodeId;
  readonly session: number;
  /** Registered as a voter: only then does it count toward any quorum of this epoch. */
  readonly voter: boolean;
  readonly acceptedEpoch: number;
  phase: 'registered' | 'epoch-sent' | 'epoch-acked' | 'newleader-sent' | 'synced';
  lastZxid: Zxid;
  epochEnds: readonly Zxid[];
  sendSeq: number;
  receiveSeq: number;
  /** Cumulative: the follower holds every proposal up to here durably. */
  acked: Zxid;
  /** The latest read-barrier round it answered. */
  pongRound: number;
  silentTicks: number;
}

type Phase =
  | 'discovery' // gathering FOLLOWERINFO from a quorum to choose the epoch
  | 'epoch-pending' // persisting acceptedEpoch before any LEADERINFO (R2)
  | 'ack-epoch' // gathering ACKEPOCH from a quorum
  | 'current-pending' // persisting currentEpoch
  | 'sync' // syncing followers, gathering NEWLEADER ACKs
  | 'broadcast'; // established

/**
 * A read waiting for the barrier: a client read this leader serves itself, or a follower's
 * ReadIndex request, answered with the commit point as it was when the request arrived.
 */
type PendingRead = (
  | { readonly kind: 'local'; readonly key: string; readonly reply: Reply }
  | {
      readonly kind: 'index';
      readonly handler: LearnerHandler;
      readonly requestRound: number;
      readonly commitPoint: Zxid;
    }
) & {
  /** The first barrier round sent after the read arrived: only its quorum proves leadership. */
  readonly round: number;
};

const MAX_ENTRIES_PER_MESSAGE = 512;
const MAX_BYTES_PER_MESSAGE = 1 << 20;

/**
 * A leader for one epoch: discovery (Leader.getEpochToPropose, waitForEpochAck), sync
 * (LearnerHandler.syncFollower, waitForNewLeaderAck) and broadcast (propose, processAck,
 * tryToCommit), plus the batched quorum read barrier of reference/zab.md §4.
 * All of it runs in one handler at a time, so building a follower's sync stream and adding
 * it to the broadcast set is atomic with respect to new proposals (R5).
 */
export class LeaderRole {
  private phase: Phase = 'discovery';
  private epoch: number;
  private readonly handlers = new Map<NodeId, LearnerHandler>();
  private readonly connected = new Set<NodeId>();
  private readonly epochAcked = new Set<NodeId>();
  private readonly newLeaderAcked = new Set<NodeId>();
  private readonly summary: { readonly currentEpoch: number; readonly lastZxid: Zxid };
  private phaseTicks = 0;
  private counter = 0;
  private selfDurable: Zxid = 0;
  private lastProposed: Zxid = 0;
  private lastCommitted: Zxid = 0;
  /** Proposed writes not yet applied; `followerAnswers`: the follower that forwarded it will. */
  private readonly writes = new Map<Zxid, { reply: Reply; followerAnswers: boolean }>();
  /** Writes waiting for the current burst of events to end, to be proposed together. */
  private batch: { readonly payload: Uint8Array; readonly reply: Reply }[] = [];
  private reads: PendingRead[] = [];
  private lastSentRound = 0;
  private roundInFlight = false;
  private active = true;

  constructor(private readonly core: ReplicaCore) {
    assert(core.voter, 'a non-voter cannot lead');
    this.summary = { currentEpoch: core.currentEpoch, lastZxid: core.history.last };
    this.epoch = core.acceptedEpoch + 1;
    this.maybeDecideEpoch();
  }

  get established(): boolean {
    return this.phase === 'broadcast';
  }

  get pendingWrites(): number {
    return this.writes.size + this.batch.length;
  }

  // ---- discovery ------------------------------------------------------------------------

  onFollowerInfo(message: MessageOf<'zab.FollowerInfo'>): void {
    const existing = this.handlers.get(message.src);
    if (existing?.session === message.session) return; // a repeated FOLLOWERINFO
    if (existing !== undefined) this.drop(existing, 'replaced by a new session');
    if (message.seq !== 0) return;
    const handler: LearnerHandler = {
      follower: message.src,
      session: message.session,
      voter: message.voter && this.core.isVoter(message.src),
      acceptedEpoch: message.acceptedEpoch,
      phase: 'registered',
      lastZxid: 0,
      epochEnds: [],
      sendSeq: 0,
      receiveSeq: 1,
      acked: 0,
      pongRound: 0,
      silentTicks: 0,
    };
    if (this.phase !== 'discovery' && message.acceptedEpoch >= this.epoch) {
      // It promised a newer epoch (to a leader that never got established), so it can never
      // follow this one; ZooKeeper would leave it out until the next election. Stepping down
      // starts that election now, with an epoch above every promise.
      this.core.lookForLeader(`follower ${message.src} promised epoch ${message.acceptedEpoch}`);
      return;
    }
    this.handlers.set(message.src, handler);
    if (this.phase === 'discovery') {
      // The new epoch is above every epoch any of them promised (Leader.getEpochToPropose).
      this.epoch = Math.max(this.epoch, message.acceptedEpoch + 1);
      if (handler.voter) this.connected.add(message.src);
      this.maybeDecideEpoch();
    } else if (this.phase !== 'epoch-pending') {
      this.sendLeaderInfo(handler);
    }
  }

  private maybeDecideEpoch(): void {
    if (this.phase !== 'discovery' || !this.core.isQuorum(this.connected.size + 1)) return;
    this.phase = 'epoch-pending';
    this.core.acceptEpoch(this.epoch, () => {
      if (!this.active) return;
      this.phase = 'ack-epoch';
      for (const handler of this.handlers.values()) this.sendLeaderInfo(handler);
      this.maybeAdoptEpoch();
    });
  }

  private sendLeaderInfo(handler: LearnerHandler): void {
    if (handler.phase !== 'registered') return;
    handler.phase = 'epoch-sent';
    this.send(handler, { kind: 'zab.LeaderInfo', epoch: this.epoch });
  }

  private onAckEpoch(handler: LearnerHandler, message: MessageOf<'zab.AckEpoch'>): void {
    if (handler.phase !== 'epoch-sent') {
      this.drop(handler, `ACKEPOCH in phase ${handler.phase}`);
      return;
    }
    handler.phase = 'epoch-acked';
    handler.lastZxid = message.lastZxid;
    handler.epochEnds = message.epochEnds;
    if (this.phase === 'ack-epoch' && message.currentEpoch !== -1 && this.isAhead(message)) {
      // A follower of the quorum holds a more recent history: this leader must not lead.
      this.core.lookForLeader(`follower ${handler.follower} is ahead`);
      return;
    }
    // An epoch promised to this very leader in an earlier session still counts.
    if (handler.voter && (message.currentEpoch !== -1 || this.epochAcked.has(handler.follower))) {
      this.epochAcked.add(handler.follower);
    }
    if (this.phase === 'ack-epoch') this.maybeAdoptEpoch();
    else if (this.phase === 'sync' || this.phase === 'broadcast') this.syncFollower(handler);
  }

  private isAhead(message: MessageOf<'zab.AckEpoch'>): boolean {
    if (message.currentEpoch !== this.summary.currentEpoch) {
      return message.currentEpoch > this.summary.currentEpoch;
    }
    return message.lastZxid > this.summary.lastZxid;
  }

  private maybeAdoptEpoch(): void {
    if (this.phase !== 'ack-epoch' || !this.core.isQuorum(this.epochAcked.size + 1)) return;
    this.phase = 'current-pending';
    this.core.adoptEpoch(this.epoch, () => {
      if (!this.active) return;
      this.phase = 'sync';
      this.selfDurable = this.core.history.last;
      for (const handler of this.handlers.values()) {
        if (handler.phase === 'epoch-acked') this.syncFollower(handler);
      }
      this.maybeEstablish();
    });
  }

  // ---- synchronization ------------------------------------------------------------------

  /** DIFF/TRUNC/SNAP, the entries after it, NEWLEADER last (R4); then the follower is in the broadcast set. */
  private syncFollower(handler: LearnerHandler): void {
    const log = this.core.history;
    const plan = planSync(log, handler.lastZxid, handler.epochEnds);
    let point: Zxid;
    if (plan.kind === 'snap') {
      point = this.core.machine.appliedZxid;
      const state = this.core.machine.encode();
      for (let at = 0; at === 0 || at < state.length; at += MAX_BYTES_PER_MESSAGE) {
        const data = state.subarray(at, at + MAX_BYTES_PER_MESSAGE);
        this.send(handler, { kind: 'zab.Snap', zxid: point, totalBytes: state.length, data });
      }
    } else if (plan.kind === 'trunc') {
      point = plan.to;
      this.send(handler, { kind: 'zab.Trunc', zxid: point });
    } else {
      point = plan.from;
      this.send(handler, { kind: 'zab.Diff', zxid: point });
    }
    this.sendEntries(handler, log.after(point));
    this.send(handler, { kind: 'zab.NewLeader', epoch: this.epoch });
    handler.phase = 'newleader-sent';
    // Its NEWLEADER ACK will vouch for exactly this much; later proposals are acked one by one.
    handler.acked = log.last;
  }

  private onNewLeaderAck(handler: LearnerHandler): void {
    if (handler.phase !== 'newleader-sent') return;
    handler.phase = 'synced';
    if (handler.voter) this.newLeaderAcked.add(handler.follower);
    if (this.phase === 'broadcast') {
      this.send(handler, { kind: 'zab.UpToDate', committed: this.lastCommitted });
      // Its ACK vouches for every proposal its sync stream carried: that may complete a quorum.
      this.tryCommit();
    } else {
      this.maybeEstablish();
    }
  }

  private maybeEstablish(): void {
    if (this.phase !== 'sync' || !this.core.isQuorum(this.newLeaderAcked.size + 1)) return;
    this.phase = 'broadcast';
    const last = this.core.history.last;
    assert(epochOf(last) < this.epoch, 'proposals of this epoch before it was established');
    this.lastProposed = last;
    this.selfDurable = last;
    this.lastCommitted = last;
    // The whole history a quorum acknowledged with NEWLEADER is committed in this epoch.
    this.core.commitThrough(last);
    for (const handler of this.handlers.values()) {
      if (handler.phase === 'synced') {
        this.send(handler, { kind: 'zab.UpToDate', committed: this.lastCommitted });
      }
    }
    this.core.noteEstablished(this.epoch);
  }

  // ---- broadcast ------------------------------------------------------------------------

  /**
   * A client write (already validated) in its encoded form. Writes that arrive together are
   * proposed together: the batch closes once the events at hand are handled, and becomes one
   * PROPOSAL per follower and one log append (one fsync) for all of them.
   */
  submitWrite(payload: Uint8Array, reply: Reply): void {
    if (this.phase !== 'broadcast') {
      this.core.respond(reply, unavailable('leader not established yet'), this.lastCommitted);
      return;
    }
    if (this.writes.size + this.batch.length >= this.core.config.maxOutstanding) {
      this.core.respond(reply, unavailable('too many writes in flight'), this.lastCommitted);
      return;
    }
    this.batch.push({ payload, reply });
    if (this.batch.length === 1) this.core.afterBurst(() => this.active && this.proposeBatch());
  }

  private proposeBatch(): void {
    const batch = this.batch;
    this.batch = [];
    const entries: StoredEntry[] = [];
    const forwarded: [Zxid, NodeId, number][] = [];
    for (const { payload, reply } of batch) {
      if (this.counter + 1 >= this.core.config.counterLimit) {
        // ZOOKEEPER-1277: the last counter value is never used; a new epoch starts again at 1.
        this.core.respond(
          reply,
          unavailable('zxid counter exhausted, electing'),
          this.lastCommitted,
        );
        continue;
      }
      this.counter++;
      const zxid = makeZxid(this.epoch, this.counter);
      entries.push({ zxid, payload });
      // A follower that will receive this proposal answers its own client at apply.
      let followerAnswers = false;
      if (reply.to === 'remote') {
        const forwarder = this.handlers.get(reply.node);
        followerAnswers = forwarder !== undefined && receivesProposals(forwarder);
        if (followerAnswers) forwarded.push([zxid, reply.node, reply.requestId]);
      }
      this.writes.set(zxid, { reply, followerAnswers });
    }
    if (entries.length > 0) this.propose(entries, forwarded);
    if (entries.length < batch.length) this.core.lookForLeader('zxid counter exhausted');
  }

  private propose(entries: StoredEntry[], forwarded: [Zxid, NodeId, number][]): void {
    const last = entries.at(-1)!.zxid;
    this.lastProposed = last;
    // Followers get the proposal before the leader's own fsync, as in ZooKeeper; a burst of big
    // values goes in several messages, each well under the peer frame limit.
    for (const chunk of chunked(entries)) {
      const first = chunk[0]![0];
      const tags = forwarded.filter(([zxid]) => zxid >= first && zxid <= chunk.at(-1)![0]);
      const proposal = {
        kind: 'zab.Proposal' as const,
        entries: chunk,
        ...(tags.length > 0 ? { forwarded: tags } : {}),
      };
      for (const handler of this.handlers.values()) {
        if (receivesProposals(handler)) this.send(handler, proposal);
      }
    }
    this.core.appendEntries(entries, () => {
      if (!this.active) return;
      this.core.noteAcknowledging(last);
      this.selfDurable = Math.max(this.selfDurable, last);
      this.tryCommit();
    });
  }

  submitRead(key: string, reply: Reply): void {
    if (this.phase !== 'broadcast') {
      this.core.respond(reply, unavailable('leader not established yet'), this.lastCommitted);
      return;
    }
    this.enqueueRead({ kind: 'local', key, reply, round: this.lastSentRound + 1 });
  }

  /**
   * Every write acknowledged before the request arrived is committed by now, so the commit
   * point at arrival is what the follower's reads must see (the ReadIndex of etcd's raft).
   */
  private onReadIndex(handler: LearnerHandler, requestRound: number): void {
    if (this.phase !== 'broadcast' || handler.phase !== 'synced') return;
    this.enqueueRead({
      kind: 'index',
      handler,
      requestRound,
      commitPoint: this.lastCommitted,
      round: this.lastSentRound + 1,
    });
  }

  private enqueueRead(read: PendingRead): void {
    this.reads.push(read);
    this.completeRounds();
  }

  /** Applied at `zxid` with this outcome: answer the write that asked for it. */
  onApplied(zxid: Zxid, outcome: KvOutcome): void {
    const write = this.writes.get(zxid);
    if (write === undefined) return;
    this.writes.delete(zxid);
    if (!write.followerAnswers) this.core.respond(write.reply, outcome, zxid);
  }

  private onProposalAck(handler: LearnerHandler, zxid: Zxid): void {
    if (handler.phase !== 'synced' || zxid <= handler.acked) return;
    if (!(zxid <= this.lastProposed))
      assert.fail(`ACK ${formatZxid(zxid)} beyond the last proposal`);
    handler.acked = zxid;
    this.tryCommit();
  }

  /** Commit the highest zxid a quorum holds durably; commits are cumulative, so in order (R10). */
  private tryCommit(): void {
    const acked = [this.selfDurable];
    for (const handler of this.handlers.values()) {
      if (handler.phase === 'synced' && handler.voter) acked.push(handler.acked);
    }
    const point = this.quorumValue(acked);
    if (point <= this.lastCommitted) return;
    this.lastCommitted = point;
    for (const handler of this.handlers.values()) {
      if (receivesProposals(handler)) this.send(handler, { kind: 'zab.Commit', zxid: point });
    }
    this.core.commitThrough(point);
  }

  /** The largest value that at least a quorum of `values` reach (-1 if none). */
  private quorumValue(values: number[]): number {
    values.sort((a, b) => b - a);
    for (let i = 0; i < values.length; i++) if (this.core.isQuorum(i + 1)) return values[i]!;
    return -1;
  }

  // ---- read barrier ---------------------------------------------------------------------

  private startRound(): void {
    this.lastSentRound++;
    this.roundInFlight = true;
    for (const handler of this.handlers.values()) {
      if (handler.phase !== 'registered')
        this.send(handler, { kind: 'zab.Ping', round: this.lastSentRound });
    }
  }

  private onPong(handler: LearnerHandler, round: number): void {
    handler.pongRound = Math.max(handler.pongRound, round);
    this.completeRounds();
  }

  /**
   * A round completes when a quorum (this leader included) has answered it: at that moment
   * no other leader can have been established since the round was sent, and this leader has
   * applied everything committed before its reads arrived (it applies at commit).
   */
  private completeRounds(): void {
    if (this.phase !== 'broadcast') return;
    const rounds = [Number.MAX_SAFE_INTEGER];
    for (const handler of this.handlers.values()) {
      if (handler.phase === 'synced' && handler.voter) rounds.push(handler.pongRound);
    }
    const proven = this.quorumValue(rounds);
    if (proven >= this.lastSentRound) this.roundInFlight = false;
    if (this.reads.length > 0 && proven >= this.reads[0]!.round) this.serveProven(proven);
    // Reads that came after the last round was sent need a round of their own. (The tick's
    // liveness round can be the last one sent while an earlier round is still out: waiting
    // for the next tick here once cost reads a whole tick.)
    const unsent = this.reads.at(-1)?.round ?? 0;
    if (!this.roundInFlight && unsent > this.lastSentRound) this.startRound();
  }

  private serveProven(proven: number): void {
    const served = this.core.machine.appliedZxid;
    const waiting: PendingRead[] = [];
    for (const read of this.reads) {
      if (read.round > proven) waiting.push(read);
      else if (read.kind === 'local') {
        this.core.respond(read.reply, this.core.machine.get(read.key), served);
      } else if (this.handlers.get(read.handler.follower) === read.handler) {
        this.send(read.handler, {
          kind: 'zab.ReadIndexReply',
          round: read.requestRound,
          zxid: read.commitPoint,
        });
      }
    }
    this.reads = waiting;
  }

  // ---- sessions -------------------------------------------------------------------------

  onSessionMessage(
    message: MessageOf<'zab.AckEpoch' | 'zab.Ack' | 'zab.Pong' | 'zab.ReadIndex'>,
  ): void {
    const handler = this.handlers.get(message.src);
    if (handler === undefined || handler.session !== message.session) return;
    if (message.seq !== handler.receiveSeq) {
      this.drop(handler, `gap in the session: seq ${message.seq}, expected ${handler.receiveSeq}`);
      return;
    }
    handler.receiveSeq++;
    handler.silentTicks = 0;
    switch (message.kind) {
      case 'zab.AckEpoch':
        return this.onAckEpoch(handler, message);
      case 'zab.Ack':
        if (counterOf(message.zxid) !== 0) return this.onProposalAck(handler, message.zxid);
        if (message.zxid === makeZxid(this.epoch, 0)) return this.onNewLeaderAck(handler);
        return; // an old epoch's NEWLEADER ACK: not counted (ZOOKEEPER-4685's failure mode)
      case 'zab.Pong':
        return this.onPong(handler, message.round);
      case 'zab.ReadIndex':
        return this.onReadIndex(handler, message.round);
    }
  }

  onLinkDown(peer: NodeId): void {
    const handler = this.handlers.get(peer);
    if (handler !== undefined) this.drop(handler, 'connection closed');
  }

  onClose(message: MessageOf<'zab.Close'>): void {
    const handler = this.handlers.get(message.src);
    if (handler !== undefined && handler.session === message.session) {
      this.handlers.delete(message.src);
      this.afterHandlerLoss();
    }
  }

  onTick(): void {
    this.phaseTicks++;
    const { initLimitTicks, syncLimitTicks } = this.core.config;
    for (const handler of [...this.handlers.values()]) {
      if (!this.active) return;
      handler.silentTicks++;
      const limit = handler.phase === 'synced' ? syncLimitTicks : initLimitTicks;
      if (handler.silentTicks > limit) this.drop(handler, `silent for ${limit} ticks`);
    }
    if (!this.active) return;
    if (this.phase !== 'broadcast') {
      if (this.phaseTicks > initLimitTicks) this.core.lookForLeader('no quorum within initLimit');
      return;
    }
    this.afterHandlerLoss();
    if (this.active) this.startRound();
  }

  /** Leaves the role: unknown outcomes for proposed writes, "did not happen" for reads. */
  end(): void {
    if (!this.active) return;
    this.active = false;
    // Also to the followers that were to answer themselves: their session may outlive this.
    for (const [zxid, { reply }] of this.writes) {
      this.core.respond(reply, { status: 504, reason: 'leader changed before commit' }, zxid);
    }
    this.core.config.observer?.failed?.(this.core.config.self, this.writes.size);
    this.writes.clear();
    for (const { reply } of this.batch) {
      this.core.respond(reply, unavailable('leader changed before proposing'), this.lastCommitted);
    }
    this.batch = [];
    for (const read of this.reads) {
      // A follower's reads end with its session, closed below.
      if (read.kind === 'local')
        this.core.respond(read.reply, unavailable('leader changed'), this.lastCommitted);
    }
    this.reads = [];
    for (const handler of this.handlers.values())
      this.core.closeSession(handler.follower, handler.session);
    this.handlers.clear();
  }

  private drop(handler: LearnerHandler, reason: string): void {
    this.core.logDebug({ follower: handler.follower, reason }, 'session dropped');
    this.core.closeSession(handler.follower, handler.session);
    this.handlers.delete(handler.follower);
    this.afterHandlerLoss();
  }

  /** A leader that cannot hear a quorum of synced followers steps down (Leader.lead's loop). */
  private afterHandlerLoss(): void {
    if (this.phase !== 'broadcast' || !this.active) return;
    let synced = 1;
    for (const handler of this.handlers.values()) {
      if (handler.phase === 'synced' && handler.voter) synced++;
    }
    if (!this.core.isQuorum(synced)) this.core.lookForLeader('lost the quorum of synced followers');
  }

  private sendEntries(handler: LearnerHandler, entries: readonly StoredEntry[]): void {
    for (const chunk of chunked(entries))
      this.send(handler, { kind: 'zab.Proposal', entries: chunk });
  }

  private send(
    handler: LearnerHandler,
    message:
      | { kind: 'zab.LeaderInfo'; epoch: number }
      | { kind: 'zab.Diff' | 'zab.Trunc' | 'zab.Commit'; zxid: Zxid }
      | { kind: 'zab.Snap'; zxid: Zxid; totalBytes: number; data: Uint8Array }
      | {
          kind: 'zab.Proposal';
          entries: [number, Uint8Array][];
          forwarded?: [Zxid, NodeId, number][];
        }
      | { kind: 'zab.NewLeader'; epoch: number }
      | { kind: 'zab.UpToDate'; committed: Zxid }
      | { kind: 'zab.Ping'; round: number }
      | { kind: 'zab.ReadIndexReply'; round: number; zxid: Zxid },
  ): void {
    this.core.send({
      ...message,
      src: this.core.config.self,
      dst: handler.follower,
      group: this.core.config.group,
      session: handler.session,
      seq: handler.sendSeq++,
    });
  }
}

/** Entries in wire form, split so no message exceeds MAX_ENTRIES/MAX_BYTES_PER_MESSAGE. */
function chunked(entries: readonly StoredEntry[]): [number, Uint8Array][][] {
  const chunks: [number, Uint8Array][][] = [];
  let chunk: [number, Uint8Array][] = [];
  let bytes = 0;
  for (const { zxid, payload } of entries) {
    if (
      chunk.length > 0 &&
      (chunk.length === MAX_ENTRIES_PER_MESSAGE || bytes + payload.length > MAX_BYTES_PER_MESSAGE)
    ) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push([zxid, payload]);
    bytes += payload.length;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** In the broadcast set: it receives every new proposal (from NEWLEADER on). */
function receivesProposals(handler: LearnerHandler): boolean {
  return handler.phase === 'newleader-sent' || handler.phase === 'synced';
}

function unavailable(reason: string): KvOutcome {
  return { status: 503, reason };
}
