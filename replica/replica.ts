import assert from 'node:assert/strict';
import {
  ComponentDefinition,
  type ComponentContext,
  type ReplyTo,
} from '../components/kernel/index.js';
import { Network, type MessageOf, type NetMessage } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import {
  Storage,
  type StorageWrite,
  type StoredEntry,
  type StoredImage,
} from '../components/storage/index.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { FastLeaderElection, type Notification, type Vote } from './election.js';
import { FollowerSession } from './follower.js';
import {
  decodeOperation,
  encodeOperation,
  isWrite,
  outcomeFromFields,
  outcomeToFields,
  type KvOutcome,
} from '../kv/kv-operation.js';
import { Kv, type KvRequest, type KvResponse } from '../kv/kv-port.js';
import { KvStateMachine } from './kv-state-machine.js';
import { LeaderRole } from './leader.js';
import type { ReplicaInit } from './replica-config.js';
import type { Reply, ReplicaCore, UnnumberedWrite } from './replica-core.js';
import { ReplicaLog } from './replica-log.js';
import { FOLLOWING, LEADING, LOOKING } from './zab-messages.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';

type Role =
  | { readonly name: 'starting' }
  | { readonly name: 'looking' }
  | { readonly name: 'following'; readonly session: FollowerSession; readonly vote: Vote }
  | { readonly name: 'leading'; readonly leader: LeaderRole; readonly vote: Vote };

interface ForwardedRequest {
  readonly origin: ReplyTo<KvResponse>;
  readonly id: number;
  readonly write: boolean;
  readonly leader: NodeId;
  readonly deadlineTick: number;
}

interface DurableWaiter {
  readonly seq: number;
  readonly then: () => void;
}

/**
 * One replica of one replication group: ZAB (election, discovery, sync, broadcast) over the
 * Network, Timer and Storage ports, serving the Kv port. Deterministic: it reads no clock
 * and draws randomness only from the seeded generator it is given.
 */
export class Replica extends ComponentDefinition implements ReplicaCore {
  readonly kv = this.provides(Kv);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly storage = this.requires(Storage);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private readonly election: FastLeaderElection;
  private readonly members: ReadonlySet<NodeId>;

  acceptedEpoch = 0;
  currentEpoch = 0;
  voter = false;
  committed: Zxid = 0;
  history = new ReplicaLog(0, []);
  machine = new KvStateMachine();

  private role: Role = { name: 'starting' };
  private nextSeq = 1;
  private readonly durableWaiters: DurableWaiter[] = [];
  private tick = 0;
  private voteResendTicks: number;
  private ticksSinceVote = 0;
  private finalizeTimer: number | null = null;
  /** Forwarded request ids; random start so an answer meant for an earlier incarnation never matches. */
  private nextRequestId: number;
  private readonly forwarded = new Map<number, ForwardedRequest>();
  /** Forwarded writes the leader proposed, by zxid: answered here when applied. */
  private readonly forwardedByZxid = new Map<Zxid, number>();
  private appliedSinceSnapshot = 0;
  /** Commits until the next snapshot: drawn anew each time (see nextSnapshotAfter). */
  private snapshotAfter: number;
  private snapshotPending = false;

  constructor(
    context: ComponentContext,
    readonly config: ReplicaInit,
  ) {
    super(context);
    assert(config.members.includes(config.self), 'a replica is a member of its group');
    this.members = new Set(config.members);
    this.voteResendTicks = config.voteResendTicks;
    this.nextRequestId = config.random.int(1, 2 ** 52);
    this.snapshotAfter = this.nextSnapshotAfter();
    this.election = new FastLeaderElection({
      self: config.self,
      selfIsVoter: () => this.voter,
      isQuorum: (count) => this.isQuorum(count),
      isVoter: (node) => this.isVoter(node),
      broadcast: (vote, round) => {
        this.ticksSinceVote = 0;
        for (const member of this.members) {
          if (member !== config.self) this.sendVote(member, vote, round, LOOKING);
        }
      },
      reply: (to, vote, round) => this.sendVote(to, vote, round, LOOKING),
      startFinalizeWait: () => {
        this.finalizeTimer = this.timers.after(config.finalizeWaitMs, () => {
          this.finalizeTimer = null;
          this.election.onFinalizeWaitOver();
        });
      },
      cancelFinalizeWait: () => {
        if (this.finalizeTimer !== null) this.timers.cancel(this.finalizeTimer);
        this.finalizeTimer = null;
      },
      decide: (vote, round) => this.onElected(vote, round),
    });

    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.storage, 'Loaded', ({ image }) => this.onLoaded(image));
    this.subscribe(this.storage, 'Durable', ({ seq }) => this.onDurable(seq));
    this.subscribe(this.kv, 'KvRequest', (request, origin) => this.onKvRequest(request, origin));
    this.subscribeNetwork();
  }

  // ---- inspection (tests, status) -------------------------------------------------------

  get roleName(): Role['name'] {
    return this.role.name;
  }

  /** The leader this replica follows or is, when it knows one. */
  get leaderId(): NodeId | null {
    if (this.role.name === 'leading') return this.config.self;
    if (this.role.name === 'following') return this.role.session.leader;
    return null;
  }

  /** True for an established leader or a follower that has synced with one. */
  get serving(): boolean {
    if (this.role.name === 'leading') return this.role.leader.established;
    if (this.role.name === 'following') return this.role.session.serving;
    return false;
  }

  /** Writes proposed (or batched) by this replica as leader and not yet answered. */
  get pendingProposals(): number {
    return this.role.name === 'leading' ? this.role.leader.pendingWrites : 0;
  }

  digest(): string {
    return this.machine.digest();
  }

  // ---- lifecycle ------------------------------------------------------------------------

  protected override onStart(): void {
    this.trigger({ kind: 'Load' }, this.storage);
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  private onLoaded(image: StoredImage): void {
    assert.equal(this.role.name, 'starting');
    // ZooKeeper refuses to start with acceptedEpoch < currentEpoch: the files are inconsistent.
    if (!(image.acceptedEpoch >= image.currentEpoch))
      assert.fail(`acceptedEpoch ${image.acceptedEpoch} < currentEpoch ${image.currentEpoch}`);
    if (image.damage === 'corrupt')
      this.log.warn('damaged data: starting empty, as a non-voter, to re-sync');
    this.acceptedEpoch = image.acceptedEpoch;
    this.currentEpoch = image.currentEpoch;
    this.voter = image.voter;
    const snapshotZxid = image.snapshot?.zxid ?? 0;
    this.machine =
      image.snapshot === null ? new KvStateMachine() : KvStateMachine.decode(image.snapshot.state);
    assert.equal(this.machine.appliedZxid, snapshotZxid, 'snapshot zxid and state disagree');
    this.history = historyAfterLoad(image);
    // Only the snapshot is known committed: the log tail waits for sync (§6.1; ZOOKEEPER-2845).
    this.committed = snapshotZxid;
    this.config.observer?.restored?.(this.config.self, snapshotZxid);
    this.log.info(
      {
        acceptedEpoch: this.acceptedEpoch,
        currentEpoch: this.currentEpoch,
        voter: this.voter,
        snapshot: formatZxid(snapshotZxid),
        last: formatZxid(this.history.last),
        damage: image.damage,
      },
      'loaded',
    );
    this.timers.every(this.config.tickMs, () => this.onTick());
    this.startLooking();
  }

  // ---- storage --------------------------------------------------------------------------

  persist(write: UnnumberedWrite, then?: () => void): void {
    const seq = this.nextSeq++;
    this.trigger({ ...write, seq } as StorageWrite, this.storage);
    if (then !== undefined) this.durableWaiters.push({ seq, then });
  }

  private onDurable(seq: number): void {
    while (this.durableWaiters.length > 0 && this.durableWaiters[0]!.seq <= seq) {
      this.durableWaiters.shift()!.then();
    }
  }

  acceptEpoch(epoch: number, then: () => void): void {
    if (!(epoch > this.acceptedEpoch))
      assert.fail(`acceptedEpoch must grow: ${epoch} <= ${this.acceptedEpoch}`);
    this.persist({ kind: 'SetAcceptedEpoch', epoch }, () => {
      this.acceptedEpoch = Math.max(this.acceptedEpoch, epoch);
      then();
    });
  }

  adoptEpoch(epoch: number, then: () => void): void {
    this.persist({ kind: 'SetCurrentEpoch', epoch }, () => {
      if (!(epoch <= this.acceptedEpoch)) assert.fail(`currentEpoch ${epoch} above acceptedEpoch`);
      this.currentEpoch = Math.max(this.currentEpoch, epoch);
      this.voter = true;
      then();
    });
  }

  appendEntries(entries: readonly StoredEntry[], then?: () => void): void {
    this.history.append(entries);
    this.persist({ kind: 'Append', entries }, then);
  }

  truncateAfter(zxid: Zxid): void {
    assert(zxid >= this.committed, 'truncating committed history');
    this.history.truncateAfter(zxid);
    this.persist({ kind: 'Truncate', afterZxid: zxid });
  }

  installSnapshot(zxid: Zxid, state: Uint8Array): void {
    const machine = KvStateMachine.decode(state);
    assert.equal(machine.appliedZxid, zxid, 'snapshot zxid and state disagree');
    assert(zxid >= this.committed, 'a snapshot older than what this replica applied');
    this.machine = machine;
    this.committed = zxid;
    this.config.observer?.restored?.(this.config.self, zxid);
    this.appliedSinceSnapshot = 0;
    this.history.resetTo(zxid);
    this.persist({ kind: 'InstallSnapshot', snapshot: { zxid, state } });
  }

  // ---- the state machine ----------------------------------------------------------------

  commitThrough(zxid: Zxid): void {
    if (zxid <= this.committed) return;
    if (!(zxid <= this.history.last)) assert.fail(`commit ${formatZxid(zxid)} beyond the log`);
    this.committed = zxid;
    const leader = this.role.name === 'leading' ? this.role.leader : null;
    for (const entry of this.history.between(this.machine.appliedZxid, zxid)) {
      const operation = decodeOperation(entry.payload);
      if (!(operation !== null && isWrite(operation)))
        assert.fail(`log entry ${formatZxid(entry.zxid)} is not a write`);
      const outcome = this.machine.apply(entry.zxid, operation);
      this.config.observer?.applied?.(this.config.self, entry.zxid, entry.payload);
      leader?.onApplied(entry.zxid, outcome);
      if (this.forwardedByZxid.size > 0) this.answerApplied(entry.zxid, outcome);
      this.appliedSinceSnapshot++;
    }
    assert.equal(this.machine.appliedZxid, zxid, 'applied state skipped a committed entry');
    this.maybeSnapshot();
  }

  answerAtApply(zxid: Zxid, requestId: number): void {
    if (this.forwarded.has(requestId)) this.forwardedByZxid.set(zxid, requestId);
  }

  private answerApplied(zxid: Zxid, outcome: KvOutcome): void {
    const requestId = this.forwardedByZxid.get(zxid);
    if (requestId === undefined) return;
    this.forwardedByZxid.delete(zxid);
    const request = this.forwarded.get(requestId);
    if (request === undefined) return;
    this.forwarded.delete(requestId);
    this.answer(request.origin, {
      kind: 'KvResponse',
      id: request.id,
      outcome,
      served: { epoch: this.currentEpoch, zxid, stale: false, leader: this.leaderId },
    });
  }

  /**
   * Between half and all of `snapshotEvery`, at random, as ZooKeeper's snapCount: replicas
   * apply the same commits at the same moment, and would otherwise all pause to encode their
   * snapshot at once, which every write in flight would then wait for.
   */
  private nextSnapshotAfter(): number {
    const every = this.config.snapshotEvery;
    return Math.ceil(every / 2) + this.config.random.int(0, Math.floor(every / 2));
  }

  /** Snapshot the applied (committed) state, then drop the log behind it but a DIFF margin. */
  private maybeSnapshot(): void {
    if (this.snapshotPending || this.appliedSinceSnapshot < this.snapshotAfter) return;
    const zxid = this.machine.appliedZxid;
    this.snapshotPending = true;
    this.appliedSinceSnapshot = 0;
    this.snapshotAfter = this.nextSnapshotAfter();
    this.persist({ kind: 'SaveSnapshot', snapshot: { zxid, state: this.machine.encode() } }, () => {
      this.snapshotPending = false;
      const keep = this.history.between(0, zxid);
      const through = keep[keep.length - 1 - this.config.retainEntries]?.zxid;
      if (through === undefined) return;
      this.history.compactThrough(through);
      this.persist({ kind: 'Compact', throughZxid: through });
    });
  }

  // ---- election -------------------------------------------------------------------------

  private startLooking(): void {
    const wasServing = this.role.name === 'following' || this.role.name === 'leading';
    this.role = { name: 'looking' };
    if (wasServing) {
      const { group } = this.config;
      this.trigger(
        { kind: 'LeaderChanged', group, leader: null, epoch: this.currentEpoch },
        this.kv,
      );
    }
    this.config.observer?.role?.(this.config.self, 'looking', this.currentEpoch);
    this.voteResendTicks = this.config.voteResendTicks;
    this.election.start({
      leader: this.config.self,
      zxid: this.history.last,
      peerEpoch: this.currentEpoch,
    });
  }

  /**
   * Leaves the group's current role for good (node shutdown): a leader ends its followers'
   * sessions so they elect a new leader at once instead of waiting out syncLimit.
   */
  resign(): void {
    this.log.info({ role: this.role.name }, 'resigning');
    this.leaveRole();
    this.role = { name: 'starting' };
    this.timers.cancelAll();
  }

  lookForLeader(reason: string): void {
    this.log.info({ role: this.role.name, reason }, 'looking for a leader');
    this.leaveRole();
    this.startLooking();
  }

  private leaveRole(): void {
    const role = this.role;
    if (role.name === 'following') role.session.end();
    if (role.name === 'leading') role.leader.end();
    this.forwardedByZxid.clear();
    for (const [requestId, request] of this.forwarded) {
      this.forwarded.delete(requestId);
      this.answerForwarded(
        request,
        request.write ? lost('leader lost') : unavailable('leader lost'),
      );
    }
  }

  private onElected(vote: Vote, round: number): void {
    this.log.info({ leader: vote.leader, round, zxid: formatZxid(vote.zxid) }, 'elected');
    if (vote.leader === this.config.self) {
      const leader = new LeaderRole(this);
      this.role = { name: 'leading', leader, vote };
      this.config.observer?.role?.(this.config.self, 'leading', this.currentEpoch);
    } else {
      const session = new FollowerSession(this, vote.leader);
      this.role = { name: 'following', session, vote };
      this.config.observer?.role?.(this.config.self, 'following', this.currentEpoch);
    }
  }

  noteEstablished(epoch: number): void {
    const role = this.role;
    if (role.name === 'following' || role.name === 'leading') {
      // Late joiners compare (leader, peerEpoch) of established servers (ZOOKEEPER-1732).
      this.role = { ...role, vote: { ...role.vote, peerEpoch: epoch } } as Role;
    }
    this.trigger(
      { kind: 'LeaderChanged', group: this.config.group, leader: this.leaderId, epoch },
      this.kv,
    );
    if (role.name === 'leading') {
      this.log.info({ epoch, zxid: formatZxid(this.history.last) }, 'leading');
      this.config.observer?.established?.(this.config.self, epoch);
    } else {
      this.log.info({ epoch, leader: this.leaderId }, 'synced');
    }
  }

  noteAcknowledging(zxid: Zxid): void {
    this.config.observer?.acknowledging?.(this.config.self, zxid);
  }

  private onVote(message: MessageOf<'zab.Vote'>): void {
    if (!this.members.has(message.src)) return;
    const role = this.role;
    if (role.name === 'starting') return;
    if (role.name === 'looking') {
      const notification: Notification = {
        from: message.src,
        leader: message.leader as NodeId,
        zxid: message.zxid,
        peerEpoch: message.peerEpoch,
        round: message.round,
        state: message.state,
        voter: message.voter,
      };
      this.election.onNotification(notification);
      return;
    }
    // Established: tell a looking peer whom we follow, so it can join (FLE's receiver thread).
    if (message.state === LOOKING) {
      this.sendVote(
        message.src,
        role.vote,
        this.election.round,
        role.name === 'leading' ? LEADING : FOLLOWING,
      );
    }
  }

  private sendVote(to: NodeId, vote: Vote, round: number, state: 0 | 1 | 2): void {
    this.send({
      kind: 'zab.Vote',
      src: this.config.self,
      dst: to,
      group: this.config.group,
      leader: vote.leader,
      zxid: vote.zxid,
      peerEpoch: vote.peerEpoch,
      round,
      state,
      voter: this.voter,
    });
  }

  // ---- ticks ----------------------------------------------------------------------------

  private onTick(): void {
    this.tick++;
    for (const [requestId, request] of this.forwarded) {
      if (request.deadlineTick > this.tick) continue;
      this.forwarded.delete(requestId);
      this.answerForwarded(request, request.write ? lost('timed out') : unavailable('timed out'));
    }
    const role = this.role;
    if (role.name === 'looking') {
      if (++this.ticksSinceVote >= this.voteResendTicks) {
        this.voteResendTicks = Math.min(this.voteResendTicks * 2, this.config.maxVoteResendTicks);
        this.election.resend();
      }
    } else if (role.name === 'following') {
      role.session.onTick();
    } else if (role.name === 'leading') {
      role.leader.onTick();
    }
  }

  // ---- network --------------------------------------------------------------------------

  send(message: NetMessage): void {
    this.trigger(message, this.network);
  }

  closeSession(peer: NodeId, session: number): void {
    const { self, group } = this.config;
    this.send({ kind: 'zab.Close', src: self, dst: peer, group, session });
  }

  private subscribeNetwork(): void {
    const mine =
      <M extends { group: number }>(handler: (message: M) => void) =>
      (message: M) => {
        if (message.group === this.config.group && this.role.name !== 'starting') handler(message);
      };
    this.subscribe(
      this.network,
      'zab.Vote',
      mine((m) => this.onVote(m)),
    );
    // A closed connection ends the sessions over it at once, as a socket EOF does in ZooKeeper.
    this.subscribe(this.network, 'LinkDown', ({ peer }) => {
      const role = this.role;
      if (role.name === 'following' && role.session.leader === peer) role.session.onClose();
      else if (role.name === 'leading') role.leader.onLinkDown(peer);
    });
    const toFollower = mine((message: Parameters<FollowerSession['onMessage']>[0]) => {
      if (this.role.name === 'following') this.role.session.onMessage(message);
    });
    for (const kind of [
      'zab.LeaderInfo',
      'zab.Diff',
      'zab.Trunc',
      'zab.Snap',
      'zab.Proposal',
      'zab.NewLeader',
      'zab.UpToDate',
      'zab.Commit',
      'zab.Ping',
      'zab.ReadIndexReply',
    ] as const) {
      this.subscribe(this.network, kind, toFollower);
    }
    const toLeader = mine((message: Parameters<LeaderRole['onSessionMessage']>[0]) => {
      if (this.role.name === 'leading') this.role.leader.onSessionMessage(message);
    });
    for (const kind of ['zab.AckEpoch', 'zab.Ack', 'zab.Pong', 'zab.ReadIndex'] as const) {
      this.subscribe(this.network, kind, toLeader);
    }
    this.subscribe(
      this.network,
      'zab.FollowerInfo',
      mine((message) => {
        if (this.role.name === 'leading') this.role.leader.onFollowerInfo(message);
        // Still looking: it may be about to lead, and the follower repeats itself.
        else if (this.role.name === 'following') this.closeSession(message.src, message.session);
      }),
    );
    this.subscribe(
      this.network,
      'zab.Close',
      mine((message) => {
        if (this.role.name === 'leading') this.role.leader.onClose(message);
        else if (
          this.role.name === 'following' &&
          this.role.session.session === message.session &&
          message.src === this.role.session.leader
        ) {
          this.role.session.onClose();
        }
      }),
    );
    this.subscribe(
      this.network,
      'zab.Request',
      mine((message) => this.onForwardedRequest(message)),
    );
    this.subscribe(
      this.network,
      'zab.Response',
      mine((message) => this.onForwardedResponse(message)),
    );
  }

  // ---- client requests ------------------------------------------------------------------

  private onKvRequest(request: KvRequest, origin: ReplyTo<KvResponse>): void {
    const { operation } = request;
    const local: Reply = { to: 'local', origin, id: request.id };
    if (operation.op === 'get' && operation.consistency === 'stale') {
      if (this.role.name === 'starting') {
        this.respond(local, unavailable('starting'), 0);
        return;
      }
      this.answer(origin, {
        kind: 'KvResponse',
        id: request.id,
        outcome: this.machine.get(operation.key),
        served: {
          epoch: this.currentEpoch,
          zxid: this.machine.appliedZxid,
          stale: true,
          leader: this.leaderId,
        },
      });
      return;
    }
    const role = this.role;
    if (role.name === 'leading') {
      if (operation.op === 'get') role.leader.submitRead(operation.key, local);
      else role.leader.submitWrite(encodeOperation(operation), local);
      return;
    }
    if (role.name !== 'following') {
      this.respond(local, unavailable('no leader'), this.committed);
      return;
    }
    // A synced follower serves linearizable reads itself; one still syncing lets the leader.
    if (operation.op === 'get' && role.session.serving) {
      role.session.submitRead(operation.key, local);
      return;
    }
    const requestId = this.nextRequestId++;
    this.forwarded.set(requestId, {
      origin,
      id: request.id,
      write: isWrite(operation),
      leader: role.session.leader,
      deadlineTick: this.tick + this.config.requestTimeoutTicks,
    });
    this.send({
      kind: 'zab.Request',
      src: this.config.self,
      dst: role.session.leader,
      group: this.config.group,
      requestId,
      payload: encodeOperation(operation),
    });
  }

  private onForwardedRequest(message: MessageOf<'zab.Request'>): void {
    const reply: Reply = { to: 'remote', node: message.src, requestId: message.requestId };
    const operation = decodeOperation(message.payload);
    if (operation === null || !this.members.has(message.src)) {
      this.log.warn({ from: message.src }, 'malformed forwarded request');
      return;
    }
    if (this.role.name !== 'leading') {
      this.respond(reply, unavailable('not the leader'), this.committed);
      return;
    }
    if (operation.op === 'get') this.role.leader.submitRead(operation.key, reply);
    else this.role.leader.submitWrite(message.payload, reply);
  }

  private onForwardedResponse(message: MessageOf<'zab.Response'>): void {
    const request = this.forwarded.get(message.requestId);
    if (request === undefined || request.leader !== message.src) return;
    this.forwarded.delete(message.requestId);
    const outcome = outcomeFromFields(message);
    this.answer(request.origin, {
      kind: 'KvResponse',
      id: request.id,
      outcome,
      served: { epoch: message.epoch, zxid: message.zxid, stale: false, leader: message.src },
    });
  }

  private answerForwarded(request: ForwardedRequest, outcome: KvOutcome): void {
    this.answer(request.origin, {
      kind: 'KvResponse',
      id: request.id,
      outcome,
      served: { epoch: this.currentEpoch, zxid: this.committed, stale: false, leader: null },
    });
  }

  respond(reply: Reply, outcome: KvOutcome, zxid: Zxid): void {
    if (reply.to === 'local') {
      this.answer(reply.origin, {
        kind: 'KvResponse',
        id: reply.id,
        outcome,
        served: { epoch: this.currentEpoch, zxid, stale: false, leader: this.leaderId },
      });
      return;
    }
    this.send({
      kind: 'zab.Response',
      src: this.config.self,
      dst: reply.node,
      group: this.config.group,
      requestId: reply.requestId,
      ...outcomeToFields(outcome),
      epoch: this.currentEpoch,
      zxid,
    });
  }

  // ---- helpers --------------------------------------------------------------------------

  isQuorum(count: number): boolean {
    return count * 2 > this.config.members.length;
  }

  isVoter(node: NodeId): boolean {
    return this.members.has(node);
  }

  nextSessionId(): number {
    return this.config.random.int(1, 2 ** 48);
  }

  afterBurst(callback: () => void): void {
    this.timers.after(0, callback);
  }

  logDebug(fields: Record<string, unknown>, message: string): void {
    this.log.debug(fields, message);
  }

  override checkInvariants(): void {
    assert(this.acceptedEpoch >= this.currentEpoch, 'acceptedEpoch < currentEpoch');
    assert(this.machine.appliedZxid === this.committed, 'applied state lags the commit point');
    assert(
      this.committed <= this.history.last || this.history.length === 0,
      'commit point beyond the log',
    );
  }
}

/**
 * The log as loaded, seen from the snapshot: without a snapshot the log was never compacted
 * and starts the history; entries at or below the snapshot are kept for DIFF only while the
 * log still reaches past the snapshot (a log that ends below it has nothing to add).
 */
function historyAfterLoad(image: StoredImage): ReplicaLog {
  if (image.snapshot === null) return new ReplicaLog(0, image.log);
  const snapshotZxid = image.snapshot.zxid;
  const first = image.log[0]?.zxid;
  const last = image.log.at(-1)?.zxid;
  if (first === undefined || last === undefined || last < snapshotZxid) {
    return new ReplicaLog(snapshotZxid, []);
  }
  if (first > snapshotZxid) return new ReplicaLog(snapshotZxid, image.log);
  return new ReplicaLog(null, image.log);
}

function unavailable(reason: string): KvOutcome {
  return { status: 503, reason };
}

function lost(reason: string): KvOutcome {
  return { status: 504, reason };
}
