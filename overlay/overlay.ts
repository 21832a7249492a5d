import {
  ComponentDefinition,
  type ComponentContext,
  type ReplyTo,
} from '../components/kernel/index.js';
import { FailureDetector } from '../components/fd/failure-detector-port.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import { nodeId, type NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { Bootstrap } from '../bootstrap/bootstrap-port.js';
import type { GroupInfo, LookupTable } from '../bootstrap/lookup-table.js';
import { ROUTE_HOP } from '../kv/forwarding-messages.js';
import {
  decodeOperation,
  encodeOperation,
  isWrite,
  type KvOperation,
  type KvOutcome,
} from '../kv/kv-operation.js';
import { Kv, type KvResponse, type ServedBy } from '../kv/kv-port.js';
import { beyondLimits } from '../kv/operation-limits.js';
import { outcomeFromFields, outcomeToFields, unanswered, unavailable } from '../kv/outcome.js';
import { PendingRequests, type PendingRequest } from '../kv/pending-requests.js';
import { PeerRejections, type PeerRejectionReason } from '../kv/peer-rejections.js';
import { Routing, type Route, type Routed } from './routing-port.js';
import { groupOfOperation, placedByContent } from './operation-groups.js';
import { RoutingStatusPort } from './routing-status-port.js';
import './overlay-messages.js';

export interface OverlayInit {
  readonly self: NodeId;
  readonly tickMs: number;
  /** Ticks an operation sent to another group may wait before it is reported (504/503). */
  readonly requestTimeoutTicks: number;
  /** Ticks between asking a member of every other group who leads it. */
  readonly leaderQueryTicks: number;
  /** Request ids start at a random point, so a reply meant for an earlier incarnation never matches. */
  readonly random: SeededRandom;
}

/** Whoever is waiting for a local replica's answer: a local client or a remote node. */
type Waiter =
  | {
      readonly to: 'client';
      readonly origin: ReplyTo<Routed>;
      readonly id: number;
      readonly group: number;
    }
  | { readonly to: 'peer'; readonly node: NodeId; readonly requestId: number };

interface Remote extends PendingRequest {
  readonly origin: ReplyTo<Routed>;
  readonly id: number;
  readonly group: number;
  readonly node: NodeId;
}

/**
 * Routing (DESIGN §5): any node accepts any key. A key of this node's own group goes to the
 * local replica (which forwards to its leader); any other key goes to a member of its group,
 * the leader when known and not suspected, else the next live member, and the answer comes
 * back here. An answer that never comes is reported unknown (504) for a write and
 * unavailable (503) for a read, which has no effect.
 *
 * Peer input is checked, never trusted (reference/security.md §1, "Peer TCP: overlay"): a
 * routed request is run only for a node of the lookup table and only within the limits HTTP
 * enforces; who leads a group is learned only from that group's members, and only a member can
 * be named. Anything else is dropped and counted.
 */
export class Overlay extends ComponentDefinition {
  readonly routing = this.provides(Routing);
  readonly status = this.provides(RoutingStatusPort);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly kv = this.requires(Kv);
  private readonly bootstrap = this.requires(Bootstrap);
  private readonly detector = this.requires(FailureDetector);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private table: LookupTable | null = null;
  /** This node's own group in the current table (none: a router only). */
  private ownGroup: GroupInfo | undefined;
  private readonly suspected = new Set<NodeId>();
  private readonly leaders = new Map<number, NodeId>();
  private readonly rotation = new Map<number, number>();
  /** Requests handed to this node's replica, by the id they were handed under. */
  private readonly waiting = new Map<number, Waiter>();
  private nextLocalId = 1;
  /** Requests sent to a member of another group. */
  private readonly remote: PendingRequests<Remote>;
  private tick = 0;
  /** Its clock is the ticks' (the warn backoff's reset): no protocol code reads the wall. */
  private readonly rejections = new PeerRejections(this.log, () => this.tick * this.init.tickMs);
  /** `rejections.total` when the status was last reported. */
  private reportedRejections = 0;

  constructor(
    context: ComponentContext,
    private readonly init: OverlayInit,
  ) {
    super(context);
    this.remote = new PendingRequests(init.random, init.requestTimeoutTicks);
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.bootstrap, 'TableReady', ({ table }) => this.onTable(table));
    this.subscribe(this.detector, 'Suspect', ({ peer }) => this.suspected.add(peer));
    // A leader whose connection closed is not asked again until someone names it again.
    this.subscribe(this.network, 'LinkDown', ({ peer }) => {
      for (const [group, leader] of this.leaders) if (leader === peer) this.noteLeader(group, null);
    });
    this.subscribe(this.detector, 'Restore', ({ peer }) => this.suspected.delete(peer));
    this.subscribe(this.routing, 'Route', (route, origin) => this.onRoute(route, origin));
    this.subscribe(this.kv, 'KvResponse', (response) => this.onLocalAnswer(response));
    this.subscribe(this.kv, 'LeaderChanged', ({ group, leader }) => this.noteLeader(group, leader));
    this.subscribe(this.network, 'overlay.LeaderQuery', (m) => this.onLeaderQuery(m));
    this.subscribe(this.network, 'overlay.LeaderAnswer', (m) => this.onLeaderAnswer(m));
    this.subscribe(this.network, 'kv.Request', (m) => m.hop === ROUTE_HOP && this.onPeerRequest(m));
    this.subscribe(this.network, 'kv.Response', (m) => m.hop === ROUTE_HOP && this.onPeerAnswer(m));
  }

  /** The leader of `group` this node knows of (tests; the host hears RoutingStatus). */
  leaderOf(group: number): NodeId | null {
    return this.leaders.get(group) ?? null;
  }

  /** Peer messages dropped so far, by reason (tests; the host hears RoutingStatus). */
  get rejected(): Readonly<Record<string, number>> {
    return this.rejections.counts;
  }

  protected override onStart(): void {
    this.timers.every(this.init.tickMs, () => this.onTick());
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  private onTable(table: LookupTable): void {
    if (this.table !== null && table.version <= this.table.version) return;
    this.table = table;
    this.ownGroup = table.groupOfNode(this.init.self);
    const everyone = table.groups.flatMap((g) => g.members);
    this.trigger(
      { kind: 'Monitor', peers: everyone.filter((n) => n !== this.init.self) },
      this.detector,
    );
    this.log.info({ version: table.version, groups: table.groups.length }, 'lookup table');
    this.reportStatus();
  }

  private onRoute(route: Route, origin: ReplyTo<Routed>): void {
    const table = this.table;
    if (table === null) {
      this.answerRoute(
        origin,
        route.id,
        unavailable('the cluster is not formed yet'),
        -1,
        this.init.self,
      );
      return;
    }
    const placed = groupOfOperation(table, route.operation);
    if ('groups' in placed) {
      // Keys of several groups: refused here, before any group is asked (Redis's CROSSSLOT).
      const outcome: KvOutcome = {
        status: 422,
        reason: 'the keys of a transaction must all be in one group (use a hash tag)',
        groups: placed.groups,
      };
      this.answerRoute(origin, route.id, outcome, -1, this.init.self);
      return;
    }
    if ('unknownGroup' in placed) {
      const outcome = unavailable(`the lookup table has no group ${placed.unknownGroup}`);
      this.answerRoute(origin, route.id, outcome, placed.unknownGroup, this.init.self);
      return;
    }
    const { group } = placed;
    // The operation's wire and log form, made once here and never again on its way to the log.
    const payload = encodeOperation(route.operation);
    if (group.id === this.ownGroup?.id) {
      const waiter: Waiter = { to: 'client', origin, id: route.id, group: group.id };
      this.runLocally(route.operation, payload, waiter);
      return;
    }
    const target = this.pickMember(group);
    if (target === null) {
      this.answerRoute(
        origin,
        route.id,
        unavailable(`group ${group.id} is down`),
        group.id,
        this.init.self,
      );
      return;
    }
    const requestId = this.remote.add({
      origin,
      id: route.id,
      group: group.id,
      node: target,
      write: isWrite(route.operation),
    });
    this.trigger(
      {
        kind: 'kv.Request',
        hop: ROUTE_HOP,
        src: this.init.self,
        dst: target,
        group: group.id,
        requestId,
        payload,
      },
      this.network,
    );
  }

  /** The group's leader if known and not suspected, else members in turn; null if all are suspected. */
  private pickMember(group: GroupInfo): NodeId | null {
    const leader = this.leaders.get(group.id);
    if (leader !== undefined && !this.suspected.has(leader) && group.members.includes(leader)) {
      return leader;
    }
    const start = this.rotation.get(group.id) ?? 0;
    this.rotation.set(group.id, start + 1);
    for (let i = 0; i < group.members.length; i++) {
      const member = group.members[(start + i) % group.members.length]!;
      if (!this.suspected.has(member)) return member;
    }
    return null;
  }

  private runLocally(operation: KvOperation, payload: Uint8Array, waiter: Waiter): void {
    const id = this.nextLocalId++;
    this.waiting.set(id, waiter);
    this.trigger({ kind: 'KvRequest', id, operation, payload }, this.kv);
  }

  private onLocalAnswer(response: KvResponse): void {
    const waiter = this.waiting.get(response.id);
    if (waiter === undefined) return;
    this.waiting.delete(response.id);
    const group = this.ownGroup?.id ?? -1;
    if (response.served.leader !== null) this.noteLeader(group, response.served.leader);
    if (waiter.to === 'client') {
      this.answer(waiter.origin, {
        kind: 'Routed',
        id: waiter.id,
        outcome: response.outcome,
        served: response.served,
        group,
        node: this.init.self,
      });
      return;
    }
    const { served } = response;
    this.answerPeer(waiter.node, waiter.requestId, response.outcome, served);
  }

  private answerPeer(node: NodeId, requestId: number, outcome: KvOutcome, served: ServedBy): void {
    this.trigger(
      {
        kind: 'kv.Response',
        hop: ROUTE_HOP,
        src: this.init.self,
        dst: node,
        requestId,
        ...outcomeToFields(outcome),
        epoch: served.epoch,
        zxid: served.zxid,
        stale: served.stale,
        leader: served.leader ?? -1,
      },
      this.network,
    );
  }

  private onPeerRequest(message: MessageOf<'kv.Request'>): void {
    // Without a table nobody can be checked; nothing is run then either (see below).
    if (this.table !== null && this.table.address(message.src) === undefined) {
      this.reject('not-in-table', message);
      return;
    }
    const operation = decodeOperation(message.payload);
    if (operation === null) {
      this.reject('bad-payload', message);
      return;
    }
    const beyond = beyondLimits(operation);
    if (beyond !== null) {
      this.reject('over-limits', message, beyond);
      this.answerPeer(message.src, message.requestId, unavailable(beyond), NOT_SERVED);
      return;
    }
    const mine = this.ownGroup;
    // A transaction's keys, a range's group, must be ours: a peer could name others (hostile)
    // or hold another table.
    const placed =
      this.table === null || !placedByContent(operation)
        ? null
        : groupOfOperation(this.table, operation);
    if (
      mine === undefined ||
      mine.id !== message.group ||
      (placed !== null && !('group' in placed && placed.group.id === mine.id))
    ) {
      // The sender's table is newer or older than ours: nothing was done here.
      const outcome = unavailable(`node ${this.init.self} is not in group ${message.group}`);
      this.answerPeer(message.src, message.requestId, outcome, NOT_SERVED);
      return;
    }
    const waiter: Waiter = { to: 'peer', node: message.src, requestId: message.requestId };
    this.runLocally(operation, message.payload, waiter);
  }

  private onPeerAnswer(message: MessageOf<'kv.Response'>): void {
    const request = this.remote.peek(message.requestId);
    if (request === undefined || request.node !== message.src) return;
    this.remote.take(message.requestId);
    if (message.leader >= 0 && this.isMember(request.group, message.leader)) {
      this.noteLeader(request.group, nodeId(message.leader));
    }
    const served: ServedBy = {
      epoch: message.epoch,
      zxid: message.zxid,
      stale: message.stale,
      leader: message.leader >= 0 ? nodeId(message.leader) : null,
    };
    this.answerRoute(
      request.origin,
      request.id,
      outcomeFromFields(message),
      request.group,
      message.src,
      served,
    );
  }

  private noteLeader(group: number, leader: NodeId | null): void {
    if ((this.leaders.get(group) ?? null) === leader) return;
    if (leader === null) this.leaders.delete(group);
    else this.leaders.set(group, leader);
    this.reportStatus();
  }

  /**
   * Tells the host the table version, each group's known leader (on every change) and the peer
   * messages dropped so far (at the next tick after one is).
   */
  private reportStatus(): void {
    const table = this.table;
    if (table === null) return;
    const groups = table.groups.map((g) => ({ id: g.id, leader: this.leaders.get(g.id) ?? null }));
    const rejected = this.rejections.counts;
    this.reportedRejections = this.rejections.total;
    this.trigger(
      { kind: 'RoutingStatus', tableVersion: table.version, groups, rejected },
      this.status,
    );
  }

  /** Whether the table says `node` is a member of `group`. */
  private isMember(group: number, node: number): boolean {
    return this.table?.group(group)?.members.includes(node as NodeId) ?? false;
  }

  private reject(
    reason: PeerRejectionReason,
    message: MessageOf<'kv.Request' | 'overlay.LeaderQuery' | 'overlay.LeaderAnswer'>,
    why?: string,
  ): void {
    const fields = { from: message.src, kind: message.kind, group: message.group };
    this.rejections.reject(reason, why === undefined ? fields : { ...fields, why });
  }

  /** A member of `group` says who leads it. */
  private onLeaderAnswer(message: MessageOf<'overlay.LeaderAnswer'>): void {
    if (this.table === null) return;
    const { group, leader } = message;
    if (!this.isMember(group, message.src)) return this.reject('not-a-member', message);
    if (leader >= 0 && !this.isMember(group, leader)) {
      return this.reject('not-a-member', message, `names ${leader} as leader`);
    }
    this.noteLeader(group, leader >= 0 ? nodeId(leader) : null);
  }

  private onLeaderQuery(message: MessageOf<'overlay.LeaderQuery'>): void {
    if (this.table !== null && this.table.address(message.src) === undefined) {
      this.reject('not-in-table', message);
      return;
    }
    const mine = this.ownGroup;
    if (mine === undefined || mine.id !== message.group) return;
    const leader = this.leaders.get(mine.id) ?? -1;
    this.trigger(
      {
        kind: 'overlay.LeaderAnswer',
        src: this.init.self,
        dst: message.src,
        group: mine.id,
        leader,
      },
      this.network,
    );
  }

  private askForLeaders(): void {
    const table = this.table;
    if (table === null) return;
    for (const group of table.groups) {
      if (group.id === this.ownGroup?.id) continue;
      const member = this.pickMember(group);
      if (member === null) {
        this.noteLeader(group.id, null);
        continue;
      }
      this.trigger(
        { kind: 'overlay.LeaderQuery', src: this.init.self, dst: member, group: group.id },
        this.network,
      );
    }
  }

  private onTick(): void {
    this.tick++;
    if (this.rejections.total !== this.reportedRejections) this.reportStatus();
    if (this.tick % this.init.leaderQueryTicks === 1) this.askForLeaders();
    for (const request of this.remote.expire()) {
      // The member may be gone: try another one next time.
      if (this.leaders.get(request.group) === request.node) this.noteLeader(request.group, null);
      const outcome = unanswered(request.write, `no answer from node ${request.node}`);
      this.answerRoute(request.origin, request.id, outcome, request.group, request.node);
    }
  }

  private answerRoute(
    origin: ReplyTo<Routed>,
    id: number,
    outcome: KvOutcome,
    group: number,
    node: NodeId,
    served: ServedBy = NOT_SERVED,
  ): void {
    this.answer(origin, { kind: 'Routed', id, outcome, served, group, node });
  }
}

/** An answer no replica gave: the overlay's own 503 or 504. */
const NOT_SERVED: ServedBy = { epoch: 0, zxid: 0, stale: false, leader: null };
