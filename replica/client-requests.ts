import type { ReplyTo } from '../components/kernel/index.js';
import { decodeOperation, isWrite } from '../kv/kv-operation.js';
import type { NetMessage, MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { LEADER_HOP } from '../kv/forwarding-messages.js';
import type { KvOutcome, KvReadOperation } from '../kv/kv-operation.js';
import type { KvRequest, KvResponse, ServedBy } from '../kv/kv-port.js';
import { outcomeFromFields, outcomeToFields, unanswered, unavailable } from '../kv/outcome.js';
import { beyondLimits } from '../kv/operation-limits.js';
import { PendingRequests, type PendingRequest } from '../kv/pending-requests.js';
import { serveRead } from '../state/range-reads.js';
import type { PeerRejectionReason } from '../kv/peer-rejections.js';
import type { Zxid } from '../kv/zxid.js';
import type { DurableState } from './durable-state.js';
import type { EntryOrigin } from './log-entry.js';
import type { ReplicaInit } from './replica-config.js';

export type { KvReadOperation } from '../kv/kv-operation.js';

/** Where an operation's answer goes: the local requester, or the replica that forwarded it. */
export type Reply =
  | { readonly to: 'local'; readonly origin: ReplyTo<KvResponse>; readonly id: number }
  | { readonly to: 'remote'; readonly node: NodeId; readonly requestId: number };

/** What the replica's role can do with a request now. */
export type RequestTarget =
  | { readonly kind: 'starting' }
  | { readonly kind: 'looking' }
  | {
      readonly kind: 'leader';
      readonly leader: {
        submitRead(read: KvReadOperation, reply: Reply): void;
        submitWrite(payload: Uint8Array, reply: Reply): void;
      };
    }
  | {
      readonly kind: 'follower';
      readonly session: {
        /** Synced: it serves linearizable reads itself (follower-reads.ts). */
        readonly serving: boolean;
        readonly leader: NodeId;
        submitRead(read: KvReadOperation, reply: Reply): void;
      };
    };

interface ForwardedRequest extends PendingRequest {
  readonly origin: ReplyTo<KvResponse>;
  readonly id: number;
  readonly leader: NodeId;
}

/** What the answers need from the replica: who answers, in which epoch, under which leader. */
export interface RequestsHost {
  readonly config: ReplicaInit;
  readonly durable: DurableState;
  send(message: NetMessage): void;
  answerLocal(origin: ReplyTo<KvResponse>, response: KvResponse): void;
  /** A peer's request was dropped as malformed or beyond the limits (counted, logged). */
  reject(reason: PeerRejectionReason, fields: Record<string, unknown>): void;
  /** This replica's epoch, leader and commit point now, for the X-Kv-* headers. */
  view(): { readonly epoch: number; readonly leader: NodeId | null; readonly committed: Zxid };
}

/**
 * The client side of a replica: answers to local and forwarded requests, and the requests this
 * replica forwarded to its leader, each answered exactly once: by the leader's response, at
 * apply when the logged entry names this replica as its origin, by its deadline, or when the
 * leader is lost. `answer` is the one way an outcome leaves the replica.
 */
export class ClientRequests {
  private readonly forwarded: PendingRequests<ForwardedRequest>;

  constructor(private readonly host: RequestsHost) {
    this.forwarded = new PendingRequests(
      host.config.random.fork('forwarded'),
      host.config.requestTimeoutTicks,
    );
  }

  /** A client request from this node (the Kv port), stale reads excepted. */
  onLocalRequest(request: KvRequest, origin: ReplyTo<KvResponse>, target: RequestTarget): void {
    const { operation } = request;
    const local: Reply = { to: 'local', origin, id: request.id };
    if (target.kind === 'starting') {
      this.answer(local, unavailable('starting'), 0);
    } else if (!isWrite(operation) && operation.consistency === 'stale') {
      // Served from this replica's applied state as it is, labelled stale (DESIGN §7).
      const { machine } = this.host.durable;
      const { epoch, leader } = this.host.view();
      const served = { epoch, zxid: machine.appliedZxid, stale: true, leader };
      const outcome = serveRead(machine, operation);
      this.host.answerLocal(origin, { kind: 'KvResponse', id: request.id, outcome, served });
    } else if (target.kind === 'leader') {
      if (!isWrite(operation)) target.leader.submitRead(operation, local);
      else target.leader.submitWrite(request.payload, local);
    } else if (target.kind === 'looking') {
      this.answer(local, unavailable('no leader'), this.host.view().committed);
    } else if (!isWrite(operation) && target.session.serving) {
      // A synced follower serves linearizable reads itself; one still syncing lets the leader.
      target.session.submitRead(operation, local);
    } else {
      this.forward(request, origin, target.session.leader);
    }
  }

  /** Sends a request to the leader as it arrived; it is answered exactly once (see above). */
  private forward(request: KvRequest, origin: ReplyTo<KvResponse>, leader: NodeId): void {
    const write = isWrite(request.operation);
    const requestId = this.forwarded.add({ origin, id: request.id, write, leader });
    this.host.send({
      kind: 'kv.Request',
      hop: LEADER_HOP,
      src: this.host.config.self,
      dst: leader,
      group: this.host.config.group,
      requestId,
      payload: request.payload,
    });
  }

  /**
   * A request another replica of the group forwarded here, to its leader (the replica admits
   * members only). It is checked as HTTP checks a client's: the peer port is no way around the
   * limits.
   */
  onForwardedRequest(message: MessageOf<'kv.Request'>, target: RequestTarget): void {
    const reply: Reply = { to: 'remote', node: message.src, requestId: message.requestId };
    const operation = decodeOperation(message.payload);
    if (operation === null) {
      this.host.reject('bad-payload', { from: message.src, kind: message.kind });
      return;
    }
    const beyond = beyondLimits(operation);
    if (beyond !== null) {
      this.host.reject('over-limits', { from: message.src, kind: message.kind, why: beyond });
      this.answer(reply, unavailable(beyond), this.host.view().committed);
      return;
    }
    if (target.kind !== 'leader') {
      this.answer(reply, unavailable('not the leader'), this.host.view().committed);
      return;
    }
    if (!isWrite(operation)) target.leader.submitRead(operation, reply);
    else target.leader.submitWrite(message.payload, reply);
  }

  /** Sends the answer to whoever asked: the local requester, or the forwarding replica. */
  answer(reply: Reply, outcome: KvOutcome, zxid: Zxid): void {
    const { epoch, leader } = this.host.view();
    if (reply.to === 'local') {
      const served: ServedBy = { epoch, zxid, stale: false, leader };
      this.host.answerLocal(reply.origin, { kind: 'KvResponse', id: reply.id, outcome, served });
      return;
    }
    this.host.send({
      kind: 'kv.Response',
      hop: LEADER_HOP,
      src: this.host.config.self,
      dst: reply.node,
      requestId: reply.requestId,
      ...outcomeToFields(outcome),
      epoch,
      zxid,
      stale: false,
      leader: leader ?? -1,
    });
  }

  /** The leader's answer to a forwarded request. */
  onResponse(message: MessageOf<'kv.Response'>): void {
    const request = this.forwarded.peek(message.requestId);
    if (request === undefined || request.leader !== message.src) return;
    this.forwarded.take(message.requestId);
    this.host.answerLocal(request.origin, {
      kind: 'KvResponse',
      id: request.id,
      outcome: outcomeFromFields(message),
      served: { epoch: message.epoch, zxid: message.zxid, stale: false, leader: message.src },
    });
  }

  /** An entry was applied: if this replica took its request, answer the client now. */
  onApplied(origin: EntryOrigin | null, zxid: Zxid, outcome: KvOutcome): void {
    if (origin === null || origin.node !== this.host.config.self) return;
    const request = this.forwarded.take(origin.requestId);
    if (request === undefined) return;
    const { epoch, leader } = this.host.view();
    this.answerForwarded(request, outcome, { epoch, zxid, stale: false, leader });
  }

  onTick(): void {
    for (const request of this.forwarded.expire()) this.giveUp(request, 'timed out');
  }

  /** The leader is lost: a forwarded write may still commit (504), a read did not happen (503). */
  leaderLost(): void {
    for (const request of this.forwarded.takeAll()) this.giveUp(request, 'leader lost');
  }

  private giveUp(request: ForwardedRequest, reason: string): void {
    const { epoch, committed } = this.host.view();
    const served: ServedBy = { epoch, zxid: committed, stale: false, leader: null };
    this.answerForwarded(request, unanswered(request.write, reason), served);
  }

  private answerForwarded(request: ForwardedRequest, outcome: KvOutcome, served: ServedBy): void {
    this.host.answerLocal(request.origin, { kind: 'KvResponse', id: request.id, outcome, served });
  }
}
