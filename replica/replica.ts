import assert from 'node:assert/strict';
import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Network, type MessageOf, type NetMessage } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { Storage, type StoredImage } from '../components/storage/index.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { PeerGate } from './peer-gate.js';
import { LEADER_HOP } from '../kv/forwarding-messages.js';
import { Kv } from '../kv/kv-port.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import { AppliedChanges } from './applied-changes-port.js';
import { ChangeFeed } from './change-feed.js';
import { ClientRequests } from './client-requests.js';
import { DurableState, type AppliedEntry, type DurableView } from './durable-state.js';
import type { Vote } from './election.js';
import { FOLLOWER_HANDLES, FollowerSession } from './follower.js';
import { LEADER_HANDLES, LeaderRole } from './leader.js';
import type { ReplicaInit } from './replica-config.js';
import {
  activeRole,
  isServing,
  leaderOf,
  onLinkDown,
  onSessionClose,
  requestTargetOf,
  settledVote,
  type Role,
} from './replica-role.js';
import { ReplicaStatusPort } from './replica-status-port.js';
import { StatusReport } from './status-report.js';
import type { RoleContext, RoleHost } from './role-context.js';
import { VoteExchange } from './vote-exchange.js';

/**
 * One replica of one replication group: ZAB (election, discovery, sync, broadcast) over the
 * Network, Timer and Storage ports, serving the Kv port. This file is the component: ports,
 * subscriptions, the election and the role changes. What survives a crash is in
 * durable-state.ts; answering clients is client-requests.ts; the roles are leader.ts and
 * follower.ts. Deterministic: it reads no clock and draws randomness only from the seeded
 * generator it is given.
 */
export class Replica extends ComponentDefinition implements RoleHost {
  readonly kv = this.provides(Kv);
  readonly status = this.provides(ReplicaStatusPort);
  readonly changes = this.provides(AppliedChanges);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly storage = this.requires(Storage);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private readonly votes: VoteExchange;
  private readonly gate: PeerGate;
  private readonly durable: DurableState;
  private readonly requests: ClientRequests;
  private readonly context: RoleContext;

  private role: Role = { name: 'starting' };
  /** Loaded once: 'starting' again means reloading after a failed write (stale reads go on). */
  private loaded = false;
  /** Ticks since the start: the replica's clock (what it knows of time comes from its Timer). */
  private ticks = 0;
  /** Left a role while a snapshot install was on its way to disk: looks again once it lands. */
  private waitingForInstall = false;
  private burstEndPending = false;
  /** The role waits for the state store (a SNAP piece being written): poll at the burst end. */
  private statePollPending = false;
  private readonly statusReport: StatusReport;
  /** Times its committed history was found diverged and replaced (historyDiverged). */
  private divergences = 0;
  /** The last follower session ended on a message it refused: the next registers a tick later. */
  private lastSessionRefused = false;

  constructor(
    context: ComponentContext,
    readonly config: ReplicaInit,
  ) {
    super(context);
    assert(config.members.includes(config.self), 'a replica is a member of its group');
    this.gate = new PeerGate(config, this.log, () => this.ticks * config.tickMs);
    const feed = new ChangeFeed(config.group, config.self, config.observer, (event) =>
      this.trigger(event, this.changes),
    );
    this.durable = new DurableState(config, (write) => this.trigger(write, this.storage), feed);
    this.requests = new ClientRequests({
      config,
      durable: this.durable,
      send: (message) => this.send(message),
      answerLocal: (origin, response) => this.answer(origin, response),
      reject: (reason, fields) => this.gate.reject(reason, fields),
      view: () => ({
        epoch: this.durable.currentEpoch,
        leader: this.leaderId,
        committed: this.durable.committed,
      }),
    });
    this.context = { config, durable: this.durable, requests: this.requests, replica: this };
    this.statusReport = new StatusReport(config.group, config.self, config.quotaBytes);
    this.votes = new VoteExchange({
      config,
      isVoter: () => this.durable.voter,
      isQuorum: (count) => this.isQuorum(count),
      send: (message) => this.send(message),
      after: (ms, callback) => this.timers.after(ms, callback),
      cancel: (timer) => this.timers.cancel(timer),
      decide: (vote, round) => this.onElected(vote, round),
      settled: () => settledVote(this.role),
    });

    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.storage, 'Loaded', ({ image }) => this.onLoaded(image));
    this.subscribe(this.storage, 'Durable', ({ seq }) => this.onDurable(seq));
    this.subscribe(this.storage, 'WriteFailed', ({ reason }) => this.onWriteFailed(reason));
    this.subscribe(this.storage, 'SpaceLow', ({ low, roomy }) =>
      this.durable.noteSpace(low, roomy),
    );
    this.subscribe(this.kv, 'KvRequest', (request, origin) =>
      this.requests.onLocalRequest(request, origin, requestTargetOf(this.role, this.loaded)),
    );
    this.subscribeNetwork();
  }

  // ---- inspection (the simulator and tests; the host reads ReplicaStatus instead) --------

  get roleName(): Role['name'] {
    return this.role.name;
  }

  /** The leader this replica follows or is, when it knows one. */
  get leaderId(): NodeId | null {
    return leaderOf(this.role, this.config.self);
  }

  /** True for an established leader or a follower that has synced with one. */
  get serving(): boolean {
    return isServing(this.role);
  }

  /** Epochs, log and applied state, to look at (the simulator's invariants, tests). */
  get durableState(): DurableView {
    return this.durable;
  }

  get rejected(): Readonly<Record<string, number>> {
    return this.gate.counts;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  protected override onStart(): void {
    this.trigger({ kind: 'Load' }, this.storage);
  }

  /**
   * Leaves the group's current role for good (node shutdown): a leader ends its followers'
   * sessions so they elect a new leader at once instead of waiting out syncLimit.
   */
  protected override onStop(): void {
    this.log.info({ role: this.role.name }, 'resigning');
    this.leaveRole();
    this.role = { name: 'starting' };
    this.timers.cancelAll();
    this.reportStatus();
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  private onLoaded(image: StoredImage): void {
    assert.equal(this.role.name, 'starting');
    if (image.damage === 'corrupt')
      this.log.warn('damaged data: starting empty, as a non-voter, to re-sync');
    this.durable.load(image);
    this.log.info({ ...this.durable.summary(), damage: image.damage }, 'loaded');
    if (!this.loaded) this.timers.every(this.config.tickMs, () => this.onTick());
    this.loaded = true;
    this.startLooking();
  }

  /**
   * The store rolled back to its last durable write (WriteFailed): memory is ahead of the disk.
   * Leave the role (proposals 504, batched writes 503, no waiter runs), reload what is durable
   * as a restart would, and join again; the node stays up, stale reads go on.
   */
  private onWriteFailed(reason: string): void {
    const role = this.role;
    // Reloading already, or stopped; but waiting for an install that the failure ended (it
    // never lands) must reload, or nothing would ever end the wait.
    if (role.name === 'starting' && !this.waitingForInstall) return;
    this.log.error({ reason, role: role.name }, 'storage write failed: leaving the role to reload');
    if (role.name === 'following') this.closeSession(role.session.leader, role.session.session);
    this.leaveRole();
    this.startLooking(this.durable.writeFailed());
  }

  private onDurable(seq: number): void {
    // The durable state's own changes first: a role's continuation may rely on them.
    this.durable.onDurable(seq);
    this.active?.onDurable(seq);
    this.pollState();
  }

  /** Takes in what the state store finished on disk (checkpoints, a SNAP install). */
  private pollState(): void {
    const failure = this.durable.machine.failure;
    if (failure !== null) return this.onWriteFailed(`applied state: ${failure}`);
    this.durable.pollState();
    if (this.waitingForInstall && !this.durable.installPending) this.startLooking();
    else if (this.role.name === 'following') this.role.session.onStateProgress();
  }

  // ---- election and roles ---------------------------------------------------------------

  /** Looks for a leader, or after a failed write first reloads, in `reloadAfterTicks`. */
  private startLooking(reloadAfterTicks = 0): void {
    const wasServing = this.role.name === 'following' || this.role.name === 'leading';
    // A snapshot on its way to disk replaces the state: nothing may vote or apply before.
    this.waitingForInstall = reloadAfterTicks === 0 && this.durable.installPending;
    this.role = { name: reloadAfterTicks > 0 || this.waitingForInstall ? 'starting' : 'looking' };
    const { group } = this.config;
    const epoch = this.durable.currentEpoch;
    if (wasServing) this.trigger({ kind: 'LeaderChanged', group, leader: null, epoch }, this.kv);
    if (this.waitingForInstall) return this.reportStatus();
    if (reloadAfterTicks > 0) {
      const reload = (): void => this.trigger({ kind: 'Load' }, this.storage);
      this.timers.after(reloadAfterTicks * this.config.tickMs, reload);
      return this.reportStatus();
    }
    this.config.observer?.role?.(this.config.self, 'looking', epoch);
    const zxid = this.durable.history.last;
    const { spaceLow } = this.durable;
    this.votes.start({ leader: this.config.self, zxid, peerEpoch: epoch, spaceLow });
    this.reportStatus();
  }

  lookForLeader(reason: string, refused = false): void {
    this.log.info({ role: this.role.name, reason }, 'looking for a leader');
    this.lastSessionRefused = refused;
    this.leaveRole();
    this.startLooking();
  }

  private leaveRole(): void {
    this.active?.end();
    this.requests.leaderLost();
  }

  private get active(): LeaderRole | FollowerSession | null {
    return activeRole(this.role);
  }

  private onElected(vote: Vote, round: number): void {
    if (this.role.name !== 'looking') return; // a finalize wait outlived its election (reload)
    this.log.info({ leader: vote.leader, round, zxid: formatZxid(vote.zxid) }, 'elected');
    const epoch = this.durable.currentEpoch;
    if (vote.leader === this.config.self) {
      this.role = { name: 'leading', leader: new LeaderRole(this.context), vote };
      this.config.observer?.role?.(this.config.self, 'leading', epoch);
    } else {
      const session = new FollowerSession(this.context, vote.leader, !this.lastSessionRefused);
      this.lastSessionRefused = false;
      this.role = { name: 'following', session, vote };
      this.config.observer?.role?.(this.config.self, 'following', epoch);
    }
    this.reportStatus();
  }

  established(epoch: number): void {
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
      this.log.info({ epoch, zxid: formatZxid(this.durable.history.last) }, 'leading');
      this.config.observer?.established?.(this.config.self, epoch);
    } else {
      this.log.info({ epoch, leader: this.leaderId }, 'synced');
    }
    this.reportStatus();
  }

  acknowledging(zxid: Zxid): void {
    this.config.observer?.acknowledging?.(this.config.self, zxid);
  }

  commitThrough(zxid: Zxid, onApplied?: (applied: AppliedEntry) => void): void {
    this.durable.commitThrough(zxid, (applied) => {
      onApplied?.(applied);
      this.requests.onApplied(applied.origin, applied.entry.zxid, applied.outcome);
    });
  }

  // ---- ticks, bursts and status ---------------------------------------------------------

  private onTick(): void {
    this.ticks++;
    this.pollState();
    this.requests.onTick();
    if (this.role.name === 'looking') this.votes.onLookingTick();
    else this.active?.onTick();
    this.reportStatus();
  }

  requestBurstEnd(): void {
    if (this.burstEndPending) return;
    this.burstEndPending = true;
    // A zero-delay timer fires after the events already queued: the burst they form is over.
    this.timers.after(0, () => {
      this.burstEndPending = false;
      if (this.statePollPending) {
        this.statePollPending = false;
        this.pollState();
      }
      this.active?.onBurstEnd();
    });
  }

  requestFlush(peer: NodeId): void {
    this.trigger({ kind: 'Flush', peer }, this.network);
  }

  requestStatePoll(): void {
    this.statePollPending = true;
    this.requestBurstEnd();
  }

  /** Tells the host what changed since the last report (on role changes and each tick). */
  private reportStatus(): void {
    const role = this.role;
    const leader = role.name === 'leading' ? role.leader : null;
    const status = this.statusReport.next(this.durable, {
      role: role.name,
      serving: this.serving,
      leader: this.leaderId,
      pendingProposals: leader?.pendingWrites ?? 0,
      followers: leader?.followers() ?? [],
      rejected: this.gate.counts,
      divergences: this.divergences,
    });
    if (status !== null) this.trigger(status, this.status);
  }

  // ---- network --------------------------------------------------------------------------

  send(message: NetMessage): void {
    this.trigger(message, this.network);
  }

  closeSession(peer: NodeId, session: number): void {
    const { self, group } = this.config;
    this.send({ kind: 'zab.Close', src: self, dst: peer, group, session });
  }

  /** Each kind goes to the role that handles it (leader.ts, follower.ts), past the gate. */
  private subscribeNetwork(): void {
    const mine =
      <M extends NetMessage & { group: number }>(handler: (message: M) => void) =>
      (message: M) => {
        if (this.gate.admits(message) && this.role.name !== 'starting') handler(message);
      };
    const onVote = mine((m: MessageOf<'zab.Vote'>) => this.votes.onVote(m));
    this.subscribe(this.network, 'zab.Vote', onVote);
    this.subscribe(this.network, 'LinkDown', ({ peer }) => onLinkDown(this.role, peer));
    this.subscribe(this.network, 'Flushed', ({ peer }) => {
      if (peer !== undefined && this.role.name === 'leading') this.role.leader.onFlushed(peer);
    });
    const toFollower = mine((message: Parameters<FollowerSession['onMessage']>[0]) => {
      if (this.role.name === 'following') this.role.session.onMessage(message);
    });
    for (const kind of FOLLOWER_HANDLES) this.subscribe(this.network, kind, toFollower);
    const toLeader = mine((message: Parameters<LeaderRole['onSessionMessage']>[0]) => {
      if (this.role.name === 'leading') this.role.leader.onSessionMessage(message);
    });
    for (const kind of LEADER_HANDLES) this.subscribe(this.network, kind, toLeader);
    this.subscribe(
      this.network,
      'zab.FollowerInfo',
      mine((message) => {
        if (this.role.name === 'leading') this.role.leader.onFollowerInfo(message);
        // Still looking: it may be about to lead, and the follower repeats itself.
        else if (this.role.name === 'following') this.closeSession(message.src, message.session);
      }),
    );
    const onClose = mine((m: MessageOf<'zab.Close'>) => onSessionClose(this.role, m));
    this.subscribe(this.network, 'zab.Close', onClose);
    const forwarded = mine((message: MessageOf<'kv.Request'>) =>
      this.requests.onForwardedRequest(message, requestTargetOf(this.role, this.loaded)),
    );
    this.subscribe(this.network, 'kv.Request', (message) => {
      if (message.hop === LEADER_HOP) forwarded(message);
    });
    this.subscribe(this.network, 'kv.Response', (message) => {
      if (message.hop !== LEADER_HOP || !this.gate.admits(message)) return;
      if (this.role.name !== 'starting') this.requests.onResponse(message);
    });
  }

  // ---- helpers --------------------------------------------------------------------------

  isQuorum(count: number): boolean {
    return count * 2 > this.config.members.length;
  }

  isVoter(node: NodeId): boolean {
    return this.gate.isMember(node);
  }

  nextSessionId(): number {
    return this.config.random.int(1, 2 ** 48);
  }

  logDebug(fields: Record<string, unknown>, message: string): void {
    this.log.debug(fields, message);
  }

  logWarn(fields: Record<string, unknown>, message: string): void {
    this.log.warn(fields, message);
  }

  logError(fields: Record<string, unknown>, message: string): void {
    this.log.error(fields, message);
  }

  historyDiverged(fields: Record<string, unknown>): void {
    this.divergences++;
    this.log.error(
      fields,
      "committed history diverged from the group's: replacing it with the leader's state",
    );
  }

  rejectPeer(...rejection: Parameters<PeerGate['reject']>): void {
    this.gate.reject(...rejection);
  }

  override checkInvariants(): void {
    this.durable.checkInvariants();
  }
}
