import assert from 'node:assert/strict';
import type { MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { unavailable } from '../kv/outcome.js';
import { counterOf, epochOf, makeZxid, MAX_EPOCH, type Zxid } from '../kv/zxid.js';
import type { KvReadOperation, Reply } from './client-requests.js';
import { DurableWaiters } from './durable-waiters.js';
import {
  countsInQuorum,
  followerStatuses,
  newLearnerHandler,
  quorumValue,
  type LearnerHandler,
  type LeaderOutgoing,
} from './learner-handler.js';
import { LeaderProposals } from './leader-proposals.js';
import { LeaderReads } from './leader-reads.js';
import type { RoleContext } from './role-context.js';
import { ackEpochFault, followerAhead, promiseFault } from './session-checks.js';
import { LeaderSync } from './leader-sync.js';

/** The session messages a leader handles; the replica subscribes these to it. */
export const LEADER_HANDLES = [
  'zab.AckEpoch',
  'zab.Ack',
  'zab.Pong',
  'zab.ReadIndex',
  'zab.SnapAck',
] as const;
type Incoming = MessageOf<(typeof LEADER_HANDLES)[number]>;
type RefuseReason = 'impossible-epoch' | 'impossible-zxid' | 'out-of-place';

type Phase =
  | 'discovery' // gathering FOLLOWERINFO from a quorum to choose the epoch
  | 'epoch-pending' // persisting acceptedEpoch before any LEADERINFO (docs/zab-rules.md R2)
  | 'ack-epoch' // gathering ACKEPOCH from a quorum
  | 'current-pending' // persisting currentEpoch
  | 'sync' // syncing followers, gathering NEWLEADER ACKs
  | 'broadcast'; // established

/**
 * A leader for one epoch: discovery (Leader.getEpochToPropose, waitForEpochAck), sync
 * (LearnerHandler.syncFollower, waitForNewLeaderAck) and broadcast (propose, processAck,
 * tryToCommit), plus the quorum read barrier (leader-reads.ts).
 * All of it runs in one handler at a time, so building a follower's sync stream and adding
 * it to the broadcast set is atomic with respect to new proposals (docs/zab-rules.md R5).
 * Its continuations wait in its own DurableWaiters and die with it.
 */
export class LeaderRole {
  private phase: Phase = 'discovery';
  private epoch: number;
  private readonly handlers = new Map<NodeId, LearnerHandler>();
  private readonly connected = new Set<NodeId>();
  private readonly epochAcked = new Set<NodeId>();
  /** Followers that promised this leader its epoch (ACKEPOCH), voters or not. */
  private readonly promised = new Set<NodeId>();
  private readonly newLeaderAcked = new Set<NodeId>();
  private readonly summary: { readonly currentEpoch: number; readonly lastZxid: Zxid };
  private phaseTicks = 0;
  private readonly waiters = new DurableWaiters();
  private readonly proposals: LeaderProposals;
  private readonly reads: LeaderReads<LearnerHandler>;
  private readonly sync: LeaderSync;

  constructor(private readonly context: RoleContext) {
    const { durable } = context;
    assert(durable.voter, 'a non-voter cannot lead');
    this.summary = { currentEpoch: durable.currentEpoch, lastZxid: durable.history.last };
    this.epoch = durable.acceptedEpoch + 1;
    this.proposals = new LeaderProposals(context, this.waiters, {
      handlers: () => this.handlers.values(),
      handlerOf: (follower) => this.handlers.get(follower as NodeId),
      send: (handler, message) => this.send(handler, message),
      refuse: (handler, reason, why) => this.refuse(handler, reason, why),
    });
    this.reads = new LeaderReads(context, {
      sendPing: (round) => {
        for (const handler of this.handlers.values()) {
          if (handler.phase !== 'registered') this.send(handler, { kind: 'zab.Ping', round });
        }
      },
      provenRound: () => this.provenRound(),
      replyReadIndex: (handler, round, zxid) => {
        if (this.handlers.get(handler.follower) === handler) {
          this.send(handler, { kind: 'zab.ReadIndexReply', round, zxid });
        }
      },
    });
    this.sync = new LeaderSync(context, {
      epoch: () => this.epoch,
      send: (handler, message) => this.send(handler, message),
      refuse: (handler, why) => this.refuse(handler, 'out-of-place', why),
      continueLater: () => context.replica.requestBurstEnd(),
      flush: (handler) => context.replica.requestFlush(handler.follower),
    });
    this.maybeDecideEpoch();
  }

  get established(): boolean {
    return this.phase === 'broadcast';
  }

  get pendingWrites(): number {
    return this.proposals.pending;
  }

  /** Its followers' sessions, for status reports. */
  followers(): ReturnType<typeof followerStatuses> {
    return followerStatuses(this.handlers.values());
  }

  /** Storage made writes durable through `seq`: continue what waited for them. */
  onDurable(seq: number): void {
    this.waiters.release(seq);
  }

  // ---- discovery ------------------------------------------------------------------------

  onFollowerInfo(message: MessageOf<'zab.FollowerInfo'>): void {
    const existing = this.handlers.get(message.src);
    if (existing?.session === message.session) return; // a repeated FOLLOWERINFO
    // Checked before the session it would replace is dropped: a forged one must not end it.
    const refuse = (reason: 'out-of-place' | 'impossible-epoch', why: string): void =>
      this.context.replica.rejectPeer(reason, { follower: message.src, why });
    if (message.seq !== 0) return refuse('out-of-place', `FOLLOWERINFO at seq ${message.seq}`);
    const promise = promiseFault(message.acceptedEpoch, this.context.durable.acceptedEpoch);
    if (promise !== null) return refuse('impossible-epoch', promise);
    if (existing !== undefined && !this.drop(existing, 'replaced by a new session')) return;
    const voter = message.voter && this.context.replica.isVoter(message.src);
    const handler = newLearnerHandler(message, voter);
    const promisedHere = message.acceptedEpoch === this.epoch && this.promised.has(message.src);
    if (this.phase !== 'discovery' && message.acceptedEpoch >= this.epoch && !promisedHere) {
      // It promised a newer epoch (to a leader that never got established), so it can never
      // follow this one; ZooKeeper would leave it out until the next election. Stepping down
      // starts that election now, with an epoch above every promise. (This epoch, promised to
      // this leader in an earlier session, is no such promise.)
      this.context.replica.lookForLeader(
        `follower ${message.src} promised epoch ${message.acceptedEpoch}`,
      );
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
    if (this.phase !== 'discovery' || !this.context.replica.isQuorum(this.connected.size + 1))
      return;
    const { acceptedEpoch } = this.context.durable;
    if (this.epoch >= MAX_EPOCH) {
      // Followers refuse it (no zxid of a later epoch fits 53 bits). Reached only through
      // thousands of forged promises (promiseFault): the group needs its epochs reset by hand.
      this.context.replica.logError({ epoch: this.epoch }, 'no epoch left to propose');
      return;
    }
    if (this.epoch <= acceptedEpoch) {
      // The promise this node made as a follower just before (its write was queued when that
      // session ended) landed after this role took its epoch, which must be above it: the
      // election starts over, and the next leader takes acceptedEpoch + 1.
      this.context.replica.lookForLeader(
        `acceptedEpoch reached ${acceptedEpoch} after this leader took epoch ${this.epoch}`,
      );
      return;
    }
    this.phase = 'epoch-pending';
    this.waiters.after(this.context.durable.acceptEpoch(this.epoch), () => {
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
      return this.refuse(handler, 'out-of-place', `ACKEPOCH in phase ${handler.phase}`);
    }
    const impossible = ackEpochFault(message, this.epoch);
    if (impossible !== null) return this.refuse(handler, 'impossible-epoch', impossible);
    handler.phase = 'epoch-acked';
    this.promised.add(handler.follower);
    handler.lastZxid = message.lastZxid;
    handler.committed = message.committed;
    handler.epochEnds = message.epochEnds;
    if (this.phase === 'ack-epoch' && followerAhead(message, this.summary)) {
      // A follower of the quorum holds a more recent history: this leader must not lead.
      this.context.replica.lookForLeader(`follower ${handler.follower} is ahead`);
      return;
    }
    // An epoch promised to this very leader in an earlier session still counts.
    if (handler.voter && (message.currentEpoch !== -1 || this.epochAcked.has(handler.follower))) {
      this.epochAcked.add(handler.follower);
    }
    if (this.phase === 'ack-epoch') this.maybeAdoptEpoch();
    else if (this.phase === 'sync' || this.phase === 'broadcast') this.syncFollower(handler);
  }

  private maybeAdoptEpoch(): void {
    if (this.phase !== 'ack-epoch' || !this.context.replica.isQuorum(this.epochAcked.size + 1))
      return;
    this.phase = 'current-pending';
    this.waiters.after(this.context.durable.adoptEpoch(this.epoch), () => {
      this.phase = 'sync';
      this.proposals.noteSelfDurable(this.context.durable.history.last);
      for (const handler of this.handlers.values()) {
        if (handler.phase === 'epoch-acked') this.syncFollower(handler);
      }
      this.maybeEstablish();
    });
  }

  // ---- synchronization ------------------------------------------------------------------

  private syncFollower(handler: LearnerHandler): void {
    this.sync.start(handler);
  }

  private onNewLeaderAck(handler: LearnerHandler): void {
    if (handler.phase !== 'newleader-sent') return;
    handler.phase = 'synced';
    if (handler.voter) this.newLeaderAcked.add(handler.follower);
    if (this.phase === 'broadcast') {
      this.send(handler, { kind: 'zab.UpToDate', committed: this.proposals.lastCommitted });
      // Its ACK vouches for every proposal its sync stream carried: that may complete a quorum.
      this.proposals.tryCommit();
    } else {
      this.maybeEstablish();
    }
  }

  private maybeEstablish(): void {
    if (this.phase !== 'sync' || !this.context.replica.isQuorum(this.newLeaderAcked.size + 1))
      return;
    this.phase = 'broadcast';
    const last = this.context.durable.history.last;
    assert(epochOf(last) < this.epoch, 'proposals of this epoch before it was established');
    // The whole history a quorum acknowledged with NEWLEADER is committed in this epoch.
    this.proposals.establish(this.epoch, last);
    for (const handler of this.handlers.values()) {
      if (handler.phase === 'synced') {
        this.send(handler, { kind: 'zab.UpToDate', committed: last });
      }
    }
    this.context.replica.established(this.epoch);
  }

  // ---- broadcast ------------------------------------------------------------------------

  /** A client write (already validated) in its encoded form (leader-proposals.ts). */
  submitWrite(payload: Uint8Array, reply: Reply): void {
    if (this.phase !== 'broadcast') {
      this.answerUnavailable(reply, 'leader not established yet');
      return;
    }
    this.proposals.submit(payload, reply);
  }

  /**
   * The events at hand are handled: the writes that came with them are proposed together, and
   * each sync under way sends its next piece.
   */
  onBurstEnd(): void {
    this.proposals.onBurstEnd();
    this.sync.continueSyncs(this.handlers.values());
  }

  submitRead(read: KvReadOperation, reply: Reply): void {
    if (this.phase !== 'broadcast') {
      this.answerUnavailable(reply, 'leader not established yet');
      return;
    }
    this.reads.submit(read, reply);
  }

  private onReadIndex(handler: LearnerHandler, requestRound: number): void {
    if (this.phase !== 'broadcast' || handler.phase !== 'synced') return;
    this.reads.submitIndex(handler, requestRound, this.proposals.lastCommitted);
  }

  private answerUnavailable(reply: Reply, reason: string): void {
    this.context.requests.answer(reply, unavailable(reason), this.proposals.lastCommitted);
  }

  // ---- read barrier (leader-reads.ts) ---------------------------------------------------

  /** The latest barrier round a quorum has answered (this leader answers every round). */
  private provenRound(): number {
    const rounds = [Number.MAX_SAFE_INTEGER];
    for (const handler of this.handlers.values()) {
      if (countsInQuorum(handler)) rounds.push(handler.pongRound);
    }
    return quorumValue(rounds, (count) => this.context.replica.isQuorum(count));
  }

  private onPong(handler: LearnerHandler, round: number): void {
    if (round > this.reads.lastRound) {
      return this.refuse(handler, 'out-of-place', `PONG for round ${round}, never sent`);
    }
    handler.pongRound = Math.max(handler.pongRound, round);
    if (this.phase === 'broadcast') this.reads.completeRounds();
  }

  // ---- sessions -------------------------------------------------------------------------

  onSessionMessage(message: Incoming): void {
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
        if (counterOf(message.zxid) !== 0) return this.proposals.onAck(handler, message.zxid);
        if (message.zxid === makeZxid(this.epoch, 0)) return this.onNewLeaderAck(handler);
        return; // an old epoch's NEWLEADER ACK: not counted (ZOOKEEPER-4685's failure mode)
      case 'zab.Pong':
        handler.spaceLow = message.spaceLow;
        handler.roomy = message.roomy;
        return this.onPong(handler, message.round);
      case 'zab.ReadIndex':
        return this.onReadIndex(handler, message.round);
      case 'zab.SnapAck':
        return this.sync.onSnapAck(handler, message);
    }
  }

  /** The network handed what was sent to `peer` to the operating system (requestFlush). */
  onFlushed(peer: NodeId): void {
    const handler = this.handlers.get(peer);
    if (handler !== undefined) this.sync.onFlushed(handler);
  }

  onLinkDown(peer: NodeId): void {
    const handler = this.handlers.get(peer);
    if (handler !== undefined) this.drop(handler, 'connection closed');
  }

  onClose(message: MessageOf<'zab.Close'>): void {
    const handler = this.handlers.get(message.src);
    if (handler !== undefined && handler.session === message.session) {
      // Its sync's snapshot view and log pin go with it: left, they would hold lmdb's pages
      // and keep the log from compacting for the life of the process.
      this.release(handler);
      this.handlers.delete(message.src);
      this.afterHandlerLoss();
    }
  }

  onTick(): void {
    this.phaseTicks++;
    const { initLimitTicks, syncLimitTicks } = this.context.config;
    for (const handler of [...this.handlers.values()]) {
      handler.silentTicks++;
      const limit = handler.phase === 'synced' ? syncLimitTicks : initLimitTicks;
      if (handler.silentTicks > limit) this.remove(handler, `silent for ${limit} ticks`);
      else this.checkBacklog(handler);
    }
    if (this.phase !== 'broadcast') {
      // Registering takes a round trip once the followers decided: a leader still short of a
      // quorum after two syncLimits was chosen by an election that split (its voters decided
      // before a better vote reached them, the others wait for a quorum to follow it). Waiting
      // out initLimit, meant for a sync's transfer, left the group leaderless for 10 s.
      const discovering = this.phase === 'discovery';
      const limit = discovering ? Math.min(initLimitTicks, 2 * syncLimitTicks) : initLimitTicks;
      if (this.phaseTicks > limit) {
        this.context.replica.lookForLeader(
          discovering ? 'no quorum registered within two syncLimits' : 'no quorum within initLimit',
        );
      }
      return;
    }
    if (this.handOffForSpace()) return;
    if (this.afterHandlerLoss()) this.reads.startRound();
  }

  /**
   * Below its disk reserve this leader refuses every write (507); where a quorum of voters with
   * room (twice their reserve free) could take them, it steps down, and the election's order
   * (`beats`) has one of those lead. It stayed leader until an operator freed space, the group
   * refusing writes meanwhile.
   */
  private handOffForSpace(): boolean {
    if (!this.context.durable.spaceLow) return false;
    let roomy = 0;
    for (const handler of this.handlers.values()) {
      // Room heard of in a Pong, not assumed: every handler starts unknown, and taken for
      // room, a low leader handed over at its first tick though every disk was low (one
      // election after another, each writing epochs to a full disk). Roomy, not merely above
      // the reserve: disks that fill alike leave the followers just above it (space-monitor.ts).
      if (handler.voter && handler.phase === 'synced' && handler.roomy === true) roomy++;
    }
    if (!this.context.replica.isQuorum(roomy)) return false;
    this.context.replica.lookForLeader(
      `disk below its reserve, and ${roomy} followers with room: one of them leads`,
    );
    return true;
  }

  /**
   * A sync slower than the writes holds ever more log for its follower: past the bound it ends
   * (the follower is not synced, so no quorum depends on it) and the follower registers again,
   * to start from a newer state.
   */
  private checkBacklog(handler: LearnerHandler): void {
    const backlog = this.sync.backlogBytes(handler);
    const bound = this.context.config.syncBacklogBytes;
    if (backlog === null || backlog <= bound) return;
    this.context.replica.logWarn(
      { follower: handler.follower, phase: handler.phase, backlogBytes: backlog, bound },
      'sync fell behind the writes by more than its bound: ending it; the follower starts over',
    );
    this.remove(handler, 'sync backlog over its bound');
  }

  /** Leaves the role: unknown outcomes for proposed writes, "did not happen" for reads. */
  end(): void {
    this.proposals.end();
    this.reads.end(this.proposals.lastCommitted);
    for (const handler of this.handlers.values()) {
      this.release(handler);
      this.context.replica.closeSession(handler.follower, handler.session);
    }
    this.handlers.clear();
  }

  /** Lets go of what a follower's sync holds: its snapshot view, its pin on the log. */
  private release(handler: LearnerHandler): void {
    handler.snapshot?.close();
    handler.snapshot = null;
    handler.tail?.unpin();
    handler.tail = null;
  }

  /** The follower sent something impossible: counted, and its session ends. */
  private refuse(handler: LearnerHandler, reason: RefuseReason, why: string): void {
    this.context.replica.rejectPeer(reason, { follower: handler.follower, why });
    this.drop(handler, why);
  }

  /** Ends a follower's session; false if this leader stepped down for it. */
  private drop(handler: LearnerHandler, reason: string): boolean {
    this.remove(handler, reason);
    return this.afterHandlerLoss();
  }

  private remove(handler: LearnerHandler, reason: string): void {
    this.context.replica.logDebug({ follower: handler.follower, reason }, 'session dropped');
    this.release(handler);
    this.context.replica.closeSession(handler.follower, handler.session);
    this.handlers.delete(handler.follower);
  }

  /**
   * A leader that cannot hear a quorum of synced followers steps down (Leader.lead's loop).
   * Returns whether it still leads.
   */
  private afterHandlerLoss(): boolean {
    if (this.phase !== 'broadcast') return true;
    let synced = 1;
    for (const handler of this.handlers.values()) if (countsInQuorum(handler)) synced++;
    if (this.context.replica.isQuorum(synced)) return true;
    this.context.replica.lookForLeader('lost the quorum of synced followers');
    return false;
  }

  private send(handler: LearnerHandler, message: LeaderOutgoing): void {
    const { self, group } = this.context.config;
    this.context.replica.send({
      ...message,
      src: self,
      dst: handler.follower,
      group,
      session: handler.session,
      seq: handler.sendSeq++,
    });
  }
}
