import { createServer, connect, type Server, type Socket } from 'node:net';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import { encodeFrame, FrameDecoder, FrameError } from './frame-codec.js';
import type { MessageCatalogue } from './message-catalogue.js';
import { Network, type NetMessage, type SetPeers } from './network-port.js';
import { NODE_ID_MAX, type NodeId, type PeerAddress } from './node-id.js';

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
}

export interface TcpNetworkStats {
  framesIn: number;
  framesOut: number;
  localDeliveries: number;
  badFrames: number;
  connectionsAccepted: number;
  connectionsDialed: number;
  /** Messages dropped: unknown peer, or over the queue bound. */
  dropped: number;
}

const PROTOCOL_VERSION = 1;
const helloCheck = TypeCompiler.Compile(
  Type.Object(
    {
      kind: Type.Literal('net.Hello'),
      cluster: Type.String({ maxLength: 256 }),
      src: Type.Integer({ minimum: 0, maximum: NODE_ID_MAX }),
      dst: Type.Integer({ minimum: 0, maximum: NODE_ID_MAX }),
      version: Type.Literal(PROTOCOL_VERSION),
    },
    { additionalProperties: false },
  ),
);

/** The sending side of one ordered pair: this node → peer. */
interface OutboundLink {
  readonly peer: NodeId;
  socket: Socket | null;
  connected: boolean;
  queue: Buffer[];
  queuedBytes: number;
  backoffMs: number;
  retry: NodeJS.Timeout | null;
  overflowWarned: boolean;
}

/**
 * The Network port over TCP. Each ordered pair of nodes has its own connection, dialled by the
 * sender and only read by the receiver, so FIFO per pair is TCP's own order. The dialler opens
 * with a Hello naming cluster and both node ids; after it every message must come from that
 * peer to this node and be a valid catalogue message, or the connection is closed and counted:
 * a bad peer never hurts the node. Frames queued in one tick go out in one write per peer.
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
  };
  private readonly init: Required<TcpNetworkInit>;
  private readonly addresses = new Map<NodeId, PeerAddress>();
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly dirty = new Set<OutboundLink>();
  private readonly inbound = new Set<Socket>();
  private server: Server | null = null;
  private flushScheduled: NodeJS.Immediate | null = null;
  private readonly listening: Promise<number>;
  private resolveListening: (port: number) => void = () => {};
  private rejectListening: (error: Error) => void = () => {};

  constructor(context: ComponentContext, init: TcpNetworkInit) {
    super(context);
    this.init = {
      maxFrameBytes: 16 * 2 ** 20,
      maxQueuedBytes: 64 * 2 ** 20,
      reconnectMinMs: 20,
      reconnectMaxMs: 1_000,
      aliases: [],
      ...init,
    };
    this.setPeers(init.peers);
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    this.listening.catch(() => {}); // reported through the log and whenListening()
    this.subscribeAll(this.network, (request) => {
      if (request.kind === 'SetPeers') this.setPeers((request as SetPeers).peers);
      else this.send(request);
    });
  }

  /** The port the server listens on, once it does. */
  whenListening(): Promise<number> {
    return this.listening;
  }

  protected override onStart(): void {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    server.on('error', (error) => {
      this.log.error({ err: error }, 'peer server failed');
      this.rejectListening(error);
    });
    server.listen(this.init.listen.port, this.init.listen.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      this.log.info({ host: this.init.listen.host, port }, 'listening for peers');
      this.resolveListening(port);
    });
  }

  protected override onKill(): void {
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    for (const link of this.links.values()) {
      if (link.retry !== null) clearTimeout(link.retry);
      link.socket?.destroy();
    }
    for (const socket of this.inbound) socket.destroy();
    this.server?.close();
  }

  private setPeers(peers: readonly PeerAddress[]): void {
    for (const peer of peers) {
      const before = this.addresses.get(peer.id);
      this.addresses.set(peer.id, peer);
      if (before !== undefined && (before.host !== peer.host || before.port !== peer.port)) {
        this.links.get(peer.id)?.socket?.destroy(); // re-dial at the new address
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
    if (!this.addresses.has(message.dst)) {
      this.stats.dropped++;
      this.log.debug({ peer: message.dst, kind: message.kind }, 'no address for peer: dropped');
      return;
    }
    const link = this.linkTo(message.dst);
    const frame = encodeFrame(message);
    link.queue.push(frame);
    link.queuedBytes += frame.length;
    this.stats.framesOut++;
    if (link.queuedBytes > this.init.maxQueuedBytes) this.overflow(link);
    if (link.connected) {
      this.dirty.add(link);
      this.flushScheduled ??= setImmediate(this.flush);
    } else {
      this.dial(link);
    }
  }

  private linkTo(peer: NodeId): OutboundLink {
    let link = this.links.get(peer);
    if (link === undefined) {
      link = {
        peer,
        socket: null,
        connected: false,
        queue: [],
        queuedBytes: 0,
        backoffMs: this.init.reconnectMinMs,
        retry: null,
        overflowWarned: false,
      };
      this.links.set(peer, link);
    }
    return link;
  }

  private readonly flush = (): void => {
    this.flushScheduled = null;
    for (const link of this.dirty) this.writeQueued(link);
    this.dirty.clear();
  };

  private writeQueued(link: OutboundLink): void {
    const socket = link.socket;
    if (!link.connected || socket === null || link.queue.length === 0) return;
    const bytes =
      link.queue.length === 1 ? link.queue[0]! : Buffer.concat(link.queue, link.queuedBytes);
    link.queue = [];
    link.queuedBytes = 0;
    socket.write(bytes);
    // A peer that does not read must not make us buffer without bound.
    if (socket.writableLength > this.init.maxQueuedBytes) {
      this.stats.dropped++;
      this.log.warn(
        { peer: link.peer, buffered: socket.writableLength },
        'peer is not reading: closing link',
      );
      socket.destroy();
    }
  }

  private overflow(link: OutboundLink): void {
    while (link.queuedBytes > this.init.maxQueuedBytes && link.queue.length > 0) {
      link.queuedBytes -= link.queue.shift()!.length;
      this.stats.dropped++;
    }
    if (!link.overflowWarned) {
      link.overflowWarned = true;
      this.log.warn(
        { peer: link.peer },
        'peer unreachable and its queue is full: dropping oldest messages',
      );
    }
  }

  // ---- connections out ----------------------------------------------------------------------

  private dial(link: OutboundLink): void {
    if (link.socket !== null || link.retry !== null) return;
    const address = this.addresses.get(link.peer);
    if (address === undefined) return;
    this.stats.connectionsDialed++;
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    link.socket = socket;
    socket.on('connect', () => {
      link.connected = true;
      link.backoffMs = this.init.reconnectMinMs;
      link.overflowWarned = false;
      socket.write(
        encodeFrame({
          kind: 'net.Hello',
          cluster: this.init.clusterId,
          src: this.init.self,
          dst: link.peer,
          version: PROTOCOL_VERSION,
        }),
      );
      this.log.debug({ peer: link.peer }, 'link up');
      this.writeQueued(link);
    });
    socket.on('data', () => {}); // the receiver never writes; drain anyway
    socket.on('error', (error) =>
      this.log.debug({ peer: link.peer, err: error.message }, 'link error'),
    );
    socket.on('close', () => {
      if (link.socket !== socket) return;
      if (link.connected) this.log.debug({ peer: link.peer }, 'link down');
      link.socket = null;
      link.connected = false;
      if (this.state === 'destroyed') return;
      // Exponential backoff with jitter, so restarted peers are not hammered in lockstep.
      const delay = link.backoffMs * (0.5 + Math.random() / 2);
      link.backoffMs = Math.min(link.backoffMs * 2, this.init.reconnectMaxMs);
      link.retry = setTimeout(() => {
        link.retry = null;
        if (link.queue.length > 0) this.dial(link);
      }, delay);
    });
  }

  // ---- connections in -----------------------------------------------------------------------

  private accept(socket: Socket): void {
    this.stats.connectionsAccepted++;
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.init.maxFrameBytes);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    let peer: NodeId | null = null;
    const reject = (reason: string): void => {
      this.stats.badFrames++;
      this.log.warn({ remote, peer, reason }, 'bad frame from peer: closing connection');
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      let values: unknown[];
      try {
        values = decoder.push(chunk);
      } catch (error) {
        if (error instanceof FrameError) return reject(error.message);
        throw error;
      }
      for (const value of values) {
        if (peer === null) {
          peer = this.checkHello(value);
          if (peer === null) return reject('bad handshake');
          continue;
        }
        const reason = this.init.catalogue.invalid(value);
        if (reason !== null) return reject(reason);
        const message = value as NetMessage;
        if (message.src !== peer || !this.isMe(message.dst)) {
          return reject(`message ${message.src}>${message.dst} on the link from ${peer}`);
        }
        this.stats.framesIn++;
        this.trigger(message, this.network);
      }
    });
    socket.on('error', (error) => this.log.debug({ remote, err: error.message }, 'inbound error'));
    socket.on('close', () => {
      this.inbound.delete(socket);
      if (peer !== null && this.state !== 'destroyed') {
        this.trigger({ kind: 'LinkDown', peer }, this.network);
      }
    });
  }

  private checkHello(value: unknown): NodeId | null {
    if (!helloCheck.Check(value)) return null;
    if (value.cluster !== this.init.clusterId || !this.isMe(value.dst as NodeId)) return null;
    return value.src as NodeId;
  }

  private isMe(id: NodeId): boolean {
    return id === this.init.self || this.init.aliases.includes(id);
  }
}
