import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import type { SeededRandom } from '../random/seeded-random.js';
import type { MessageCatalogue } from '../network/message-catalogue.js';
import type { Envelope } from '../network/network-port.js';
import type { NodeId } from '../network/node-id.js';
import type { SimClock } from './sim-clock.js';

/** How links behave. Latency is drawn per message, but never lets a message overtake another. */
export interface LinkModel {
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  /** Probability that a message is lost. */
  readonly lossRate: number;
}

export const RELIABLE_LAN: LinkModel = { minLatencyMs: 1, maxLatencyMs: 3, lossRate: 0 };

interface Endpoint {
  readonly incarnation: number;
  readonly deliver: (message: Envelope) => void;
  /** The connection from `peer` closed (it crashed), after everything it had sent. */
  readonly linkDown: (peer: NodeId) => void;
}

export interface FabricStats {
  sent: number;
  delivered: number;
  lost: number;
  blocked: number;
  toDeadNode: number;
}

/**
 * The simulated wire between all nodes of a simulation. FIFO per ordered pair of nodes: a
 * message's arrival time is at least the previous arrival on the same link, and equal times
 * keep send order on the agenda. Messages are lost by the link model's loss rate, by
 * partitions (checked at send and at arrival), and when the receiver crashed or restarted
 * since the send (its connection, and what was in flight on it, died with it).
 */
export class SimFabric {
  readonly stats: FabricStats = { sent: 0, delivered: 0, lost: 0, blocked: 0, toDeadNode: 0 };
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly incarnations = new Map<NodeId, number>();
  private readonly lastArrival = new Map<number, number>();
  /** Blocked ordered pairs `from → to`, as `from * 65536 + to`. */
  private readonly blockedLinks = new Set<number>();
  private readonly aliases = new Map<NodeId, NodeId>();
  private readonly packr = new Packr({ useRecords: false });
  /**
   * A scenario's hook on every arrival: return false to drop the message. It may also inject
   * faults (crash a node) at exactly the moment a chosen message arrives.
   */
  onArrival: ((message: Envelope) => boolean) | undefined;
  /** The harness's hook on every message sent, before any fault: for invariant checks. */
  onSend: ((message: Envelope) => void) | undefined;

  constructor(
    private readonly clock: SimClock,
    private readonly random: SeededRandom,
    public model: LinkModel = RELIABLE_LAN,
    /** When given, every message is encoded, decoded and validated as TCP would. */
    private readonly catalogue?: MessageCatalogue,
  ) {}

  attach(
    id: NodeId,
    deliver: (message: Envelope) => void,
    linkDown: (peer: NodeId) => void = () => {},
  ): void {
    assert(!this.endpoints.has(id), `node ${id} attached twice`);
    const incarnation = (this.incarnations.get(id) ?? 0) + 1;
    this.incarnations.set(id, incarnation);
    this.endpoints.set(id, { incarnation, deliver, linkDown });
  }

  /**
   * Runs `action` in a later step while `id` stays attached as it is now: what a real network
   * reports in a later turn (a write that left the process), never to a node restarted since.
   */
  later(id: NodeId, action: () => void): void {
    const incarnation = this.endpoints.get(id)?.incarnation;
    if (incarnation === undefined) return;
    this.clock.after(0, () => {
      if (this.endpoints.get(id)?.incarnation === incarnation) action();
    });
  }

  /**
   * The node is gone (crash): like TCP seeing the connection reset, every other node learns
   * its link from `id` went down, after the messages `id` had already sent on it.
   */
  detach(id: NodeId): void {
    if (!this.endpoints.delete(id)) return;
    for (const [other, endpoint] of this.endpoints) {
      const link = id * 65536 + other;
      const latency = this.random.int(this.model.minLatencyMs, this.model.maxLatencyMs);
      const arrival = Math.max(this.clock.now + latency, this.lastArrival.get(link) ?? 0);
      this.lastArrival.set(link, arrival);
      const { incarnation } = endpoint;
      this.clock.after(arrival - this.clock.now, () => {
        const target = this.endpoints.get(other);
        if (target === undefined || target.incarnation !== incarnation) return;
        this.clock.traceLine(`link down ${id}>${other}`);
        target.linkDown(id);
      });
    }
  }

  isAttached(id: NodeId): boolean {
    return this.endpoints.has(id);
  }

  /** Messages to `alias` go to `node` (as TcpNetwork's `aliases`, e.g. the bootstrap server). */
  alias(alias: NodeId, node: NodeId): void {
    this.aliases.set(alias, node);
  }

  private resolve(id: NodeId): NodeId {
    return this.aliases.get(id) ?? id;
  }

  send(message: Envelope): void {
    this.stats.sent++;
    this.onSend?.(message);
    const src = message.src;
    const dst = this.resolve(message.dst);
    const wire = this.catalogue === undefined ? message : this.throughTheWire(message);
    if (this.isBlocked(src, dst)) return this.drop('blocked', message);
    if (this.random.chance(this.model.lossRate)) return this.drop('lost', message);
    const target = this.endpoints.get(dst);
    if (target === undefined) return this.drop('toDeadNode', message);
    const link = src * 65536 + dst;
    const latency = this.random.int(this.model.minLatencyMs, this.model.maxLatencyMs);
    const arrival = Math.max(this.clock.now + latency, this.lastArrival.get(link) ?? 0);
    this.lastArrival.set(link, arrival);
    this.clock.after(arrival - this.clock.now, () => this.arrive(wire, target.incarnation));
  }

  private arrive(message: Envelope, incarnation: number): void {
    const dst = this.resolve(message.dst);
    const target = this.endpoints.get(dst);
    if (target === undefined || target.incarnation !== incarnation) {
      return this.drop('toDeadNode', message);
    }
    if (this.isBlocked(message.src, dst)) return this.drop('blocked', message);
    if (this.onArrival !== undefined && !this.onArrival(message)) return this.drop('lost', message);
    if (!this.endpoints.has(dst)) return this.drop('toDeadNode', message);
    this.stats.delivered++;
    this.clock.traceLine(`deliver ${message.src}>${message.dst} ${message.kind}`);
    target.deliver(message);
  }

  private drop(reason: 'blocked' | 'lost' | 'toDeadNode', message: Envelope): void {
    this.stats[reason]++;
    this.clock.traceLine(`drop ${reason} ${message.src}>${message.dst} ${message.kind}`);
  }

  private throughTheWire(message: Envelope): Envelope {
    const decoded: unknown = this.packr.unpack(this.packr.pack(message));
    const reason = this.catalogue!.invalid(decoded);
    assert(reason === null, `a node sent a message the network would reject: ${reason}`);
    return decoded as Envelope;
  }

  // ---- partitions ---------------------------------------------------------------------------

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blockedLinks.has(from * 65536 + to);
  }

  /** Cuts one direction only: `from` can no longer reach `to`. */
  block(from: NodeId, to: NodeId): void {
    if (from === to) return;
    this.blockedLinks.add(from * 65536 + to);
    this.clock.traceLine(`block ${from}>${to}`);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blockedLinks.delete(from * 65536 + to);
  }

  /** Splits nodes into sides that cannot reach each other (both directions). */
  partition(sides: readonly (readonly NodeId[])[]): void {
    for (const a of sides) {
      for (const b of sides) {
        if (a === b) continue;
        for (const from of a) for (const to of b) this.block(from, to);
      }
    }
  }

  /** Removes every partition and blocked link. */
  heal(): void {
    this.blockedLinks.clear();
    this.clock.traceLine('heal');
  }
}
