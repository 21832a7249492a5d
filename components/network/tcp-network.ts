import {
  MAX_FRAME_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MAX_PEER_BUFFERED_BYTES,
  MAX_PEER_CONNECTIONS_COUNT,
  MAX_PEER_HANDSHAKES_COUNT,
  MAX_PEER_HANDSHAKES_PER_SOURCE_COUNT,
  PEER_FRAME_STALL_TIMEOUT_MS,
  PEER_HANDSHAKE_TIMEOUT_MS,
} from '../limits.js';
import { ComponentDefinition, type ComponentContext, type ReplyTo } from '../kernel/index.js';
import { encodeFrame } from './frame-codec.js';
import type { MessageCatalogue } from './message-catalogue.js';
import { Network, type Flushed, type NetMessage } from './network-port.js';
import type { NodeId, PeerAddress } from './node-id.js';
import { OutboundLink, type LinkContext } from './outbound-link.js';
import { PeerListener, type ListenerStats } from './peer-listener.js';
import type { PeerFaults } from './peer-faults.js';
import { PeerTls, type PeerTlsInit } from './peer-tls.js';

export interface TcpNetworkInit {
  readonly self: NodeId;
  readonly clusterId: string;
  /** Port 0 picks a free port; see `whenListening`. */
  readonly listen: { readonly host: string; readonly port: number };
  readonly peers: readonly PeerAddress[];
  readonly catalogue: MessageCatalogue;
  readonly maxFrameBytes?: number;
  /** Per peer: bytes waiting for a connection, or unsent on a slow one, before dropping. */
  readonly maxQueuedBytes?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * Other ids this node answers to, e.g. the well-known id of the bootstrap server, which a
   * joining node can reach knowing only its address.
   */
  readonly aliases?: readonly NodeId[];
  /** Mutual TLS on every peer connection, both ways; plaintext when absent. */
  readonly tls?: PeerTlsInit;
  /** The frame limit until a connection's Hello is accepted. */
  readonly maxHelloFrameBytes?: number;
  /** An inbound connection must complete TLS and its Hello within this. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Inbound connections handshaking at once; past it, the oldest handshake of the source
   * holding the most is closed to make room (peer-listener.ts).
   */
  readonly maxHandshakes?: number;
  /** Inbound handshakes from one source (IPv4 address, IPv6 /64); past it, its oldest closes. */
  readonly maxHandshakesPerSource?: number;
  /** An accepted connection holding an incomplete frame is closed after this without a byte. */
  readonly frameStallTimeoutMs?: number;
  /** Bytes of incomplete frames across inbound connections; past it the largest is closed. */
  readonly maxBufferedBytes?: number;
  /** Lines for trouble a peer can cause at will: one per kind per this, the rest at debug. */
  readonly warnIntervalMs?: number;
  /** Inbound connections in all; more are closed at once. */
  readonly maxInboundConnections?: number;
  /** Fault injection for test harnesses: drops peer messages by its rules (peer-faults.ts). */
  readonly faults?: PeerFaults;
}

export interface TcpNetworkStats extends ListenerStats {
  framesOut: number;
  localDeliveries: number;
  connectionsDialed: number;
  /**
   * Dialled connections whose TLS handshake failed: the receiver's certificate is not the
   * CA's or does not name the node dialled, or the receiver refused ours.
   */
  dialHandshakeFailures: number;
  /** Messages dropped: unknown peer, or over the queue bound. */
  dropped: number;
}

/** A Flush waiting for writes: each link's write count when it arrived. */
interface PendingFlush {
  readonly origin: ReplyTo<Flushed>;
  readonly marks: readonly (readonly [OutboundLink, number])[];
  /** The one peer whose writes it waits for, if the Flush named one. */
  readonly peer?: NodeId;
}

/**
 * The Network port over TCP. Each ordered pair of nodes has its own connection, dialled by the
 * sender and only read by the receiver, so FIFO per pair is TCP's own order. The dialler opens
 * with a Hello naming cluster and both node ids; after it every message must come from that
 * peer to this node and be a valid catalogue message, or the connection is closed and counted:
 * a bad peer never hurts the node (the receiving side, its handshake limits and its counters
 * are in `peer-listener.ts`). With `tls`, both ends prove their ids with certificates of the
 * cluster CA (`peer-tls.ts`). Frames queued in one tick go out in one write per peer.
 */
export class TcpNetwork extends ComponentDefinition {
  readonly network = this.provides(Network);
  readonly stats: TcpNetworkStats = {
    framesIn: 0,
    framesOut: 0,
    localDeliveries: 0,
    badFrames: 0,
    connectionsAccepted: 0,
    connectionsDialed: 0,
    dropped: 0,
    handshakeFailures: 0,
    handshakeTimeouts: 0,
    connectionsRefused: 0,
    connectionsReplaced: 0,
    handshakesEvicted: 0,
    frameStalls: 0,
    bufferEvictions: 0,
    bufferedBytes: 0,
    dialHandshakeFailures: 0,
  };
  private readonly init: Required<Omit<TcpNetworkInit, 'tls' | 'faults'>>;
  private readonly faults: PeerFaults | null;
  private readonly addresses = new Map<NodeId, PeerAddress>();
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly dirty = new Set<OutboundLink>();
  private readonly listener: PeerListener;
  private flushScheduled: NodeJS.Immediate | null = null;
  private pendingFlushes: PendingFlush[] = [];
  private readonly linkContext: LinkContext;
  private readonly listening: Promise<number>;
  private resolveListening: (port: number) => void = () => {};
  private rejectListening: (error: Error) => void = () => {};

  constructor(context: ComponentContext, init: TcpNetworkInit) {
    super(context);
    this.init = {
      maxFrameBytes: MAX_FRAME_BYTES,
      maxQueuedBytes: 64 * 2 ** 20,
      reconnectMinMs: 20,
      reconnectMaxMs: 1_000,
      aliases: [],
      maxHelloFrameBytes: MAX_HELLO_FRAME_BYTES,
      handshakeTimeoutMs: PEER_HANDSHAKE_TIMEOUT_MS,
      maxHandshakes: MAX_PEER_HANDSHAKES_COUNT,
      maxInboundConnections: MAX_PEER_CONNECTIONS_COUNT,
      maxHandshakesPerSource: MAX_PEER_HANDSHAKES_PER_SOURCE_COUNT,
      frameStallTimeoutMs: PEER_FRAME_STALL_TIMEOUT_MS,
      maxBufferedBytes: MAX_PEER_BUFFERED_BYTES,
      warnIntervalMs: 10_000,
      ...init,
    };
    this.faults = init.faults ?? null;
    const tls = init.tls === undefined ? null : new PeerTls(init.tls, init.clusterId);
    this.listener = new PeerListener({
      ...this.init,
      maxConnections: this.init.maxInboundConnections,
      tls,
      stats: this.stats,
      log: this.log,
      isMe: (id) => this.isMe(id),
      deliver: (message) => {
        if (this.faults?.dropsFrom(message.src) !== true) this.trigger(message, this.network);
      },
      linkDown: (peer) => this.trigger({ kind: 'LinkDown', peer }, this.network),
    });
    this.linkContext = {
      ...this.init,
      tls,
      stats: this.stats,
      log: this.log,
      address: (peer) => this.addresses.get(peer),
      closed: () => this.state === 'destroyed',
      written: () => this.settleFlushes(),
    };
    this.setPeers(init.peers);
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    this.listening.catch(() => {}); // reported through the log and whenListening()
    this.subscribeAll(this.network, (request, origin) => {
      if (request.kind === 'SetPeers') this.setPeers(request.peers);
      else if (request.kind === 'Flush') this.onFlush(origin, request.peer);
      else this.send(request);
    });
  }

  /** The port the server listens on, once it does. */
  whenListening(): Promise<number> {
    return this.listening;
  }

  protected override onStart(): void {
    const { host, port } = this.init.listen;
    this.listener.listen(host, port).then(
      (bound) => {
        this.log.info(
          { host, port: bound, tls: this.linkContext.tls !== null },
          'listening for peers',
        );
        this.resolveListening(bound);
      },
      (error: Error) => {
        this.log.error({ err: error }, 'peer server failed');
        this.rejectListening(error);
      },
    );
  }

  protected override onKill(): void {
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    for (const link of this.links.values()) link.close();
    this.listener.close();
  }

  private setPeers(peers: readonly PeerAddress[]): void {
    for (const peer of peers) {
      const before = this.addresses.get(peer.id);
      this.addresses.set(peer.id, peer);
      if (before !== undefined && (before.host !== peer.host || before.port !== peer.port)) {
        this.links.get(peer.id)?.addressChanged();
      }
    }
  }

  // ---- sending ------------------------------------------------------------------------------

  private send(message: NetMessage): void {
    if (this.isMe(message.dst)) {
      this.stats.localDeliveries++;
      this.trigger(message, this.network);
      return;
    }
    if (this.faults?.dropsTo(message.dst) === true) return;
    if (!this.addresses.has(message.dst)) {
      this.stats.dropped++;
      this.log.debug({ peer: message.dst, kind: message.kind }, 'no address for peer: dropped');
      return;
    }
    const link = this.linkTo(message.dst);
    this.stats.framesOut++;
    if (link.enqueue(encodeFrame(message))) {
      this.dirty.add(link);
      this.flushScheduled ??= setImmediate(this.flush);
    }
  }

  private linkTo(peer: NodeId): OutboundLink {
    let link = this.links.get(peer);
    if (link === undefined) {
      link = new OutboundLink(peer, this.linkContext);
      this.links.set(peer, link);
    }
    return link;
  }

  private readonly flush = (): void => {
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    for (const link of this.dirty) link.writeQueued();
    this.dirty.clear();
  };

  /** Writes what is queued now, and answers once every write so far has left the process. */
  private onFlush(origin: ReplyTo<Flushed>, peer: NodeId | undefined): void {
    this.flush();
    const one = peer === undefined ? undefined : this.links.get(peer);
    const links = peer === undefined ? [...this.links.values()] : one === undefined ? [] : [one];
    const marks = links
      .map((link) => [link, link.writesIssued] as const)
      .filter(([link, mark]) => !link.finishedThrough(mark));
    this.pendingFlushes.push({ origin, marks, ...(peer === undefined ? {} : { peer }) });
    this.settleFlushes();
  }

  private settleFlushes(): void {
    if (this.pendingFlushes.length === 0) return;
    const done = (flush: PendingFlush) =>
      flush.marks.every(([link, mark]) => link.finishedThrough(mark));
    for (const flush of this.pendingFlushes.filter(done)) {
      this.answer(flush.origin, {
        kind: 'Flushed',
        ...(flush.peer === undefined ? {} : { peer: flush.peer }),
      });
    }
    this.pendingFlushes = this.pendingFlushes.filter((flush) => !done(flush));
  }

  private isMe(id: NodeId): boolean {
    return id === this.init.self || this.init.aliases.includes(id);
  }
}
