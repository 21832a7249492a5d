import { createServer, type Server, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { FrameDecoder, FrameError } from './frame-codec.js';
import { checkHello, type HelloEnds } from './handshake.js';
import type { MessageCatalogue } from './message-catalogue.js';
import type { NetMessage } from './network-port.js';
import type { NodeId } from './node-id.js';
import type { PeerTls } from './peer-tls.js';
import { WarnLimiter } from './warn-limiter.js';

/** The inbound counters (a part of TcpNetworkStats). */
export interface ListenerStats {
  framesIn: number;
  /**
   * Connections closed for a frame that was oversized or did not decode, or for a message that
   * was invalid or not from the peer the Hello named.
   */
  badFrames: number;
  connectionsAccepted: number;
  /**
   * Connections whose handshake failed: TLS (no certificate, one the CA did not sign, not TLS
   * at all), a bad Hello (another cluster, another node), a Hello whose src the certificate
   * does not name, or closed before its Hello.
   */
  handshakeFailures: number;
  /** Connections closed because TLS and the Hello took longer than the handshake timeout. */
  handshakeTimeouts: number;
  /** Connections closed at once: too many handshakes in progress, or too many connections. */
  connectionsRefused: number;
  /**
   * Connections closed because a newer one from the same peer to the same id replaced them
   * (no LinkDown: the peer is still connected).
   */
  connectionsReplaced: number;
}

/** What the listener needs from its network. */
export interface ListenerContext {
  readonly clusterId: string;
  readonly catalogue: MessageCatalogue;
  readonly maxFrameBytes: number;
  readonly maxHelloFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxHandshakes: number;
  readonly maxConnections: number;
  readonly tls: PeerTls | null;
  readonly stats: ListenerStats;
  readonly log: Logger;
  isMe(id: NodeId): boolean;
  /** A valid message from an accepted peer. */
  deliver(message: NetMessage): void;
  /** The current connection from `peer` closed. */
  linkDown(peer: NodeId): void;
}

/** One inbound connection until its Hello is accepted. */
interface Handshake {
  readonly raw: Socket;
  readonly remote: string;
  readonly timer: NodeJS.Timeout;
  /** The stream its frames arrive on: the raw socket, or the TLS socket over it. */
  stream: Socket | null;
  /** Accepted, or failed and counted: either way no longer handshaking. */
  settled: boolean;
}

type Failure = 'handshakeFailures' | 'handshakeTimeouts' | 'badFrames';

/**
 * The receiving side of the peer port. Every connection must complete its handshake (TLS when
 * on, then a Hello whose src the certificate names) within a timeout, under a small frame
 * limit, and only so many may be handshaking at once; a dialler that never finishes or sends a
 * huge frame is closed before it costs memory. After the Hello, each message must come from the
 * peer the Hello named, to this node, and be valid. One connection is current for each
 * (dialler, id dialled): a newer one replaces it, and only the close of the current one is a
 * LinkDown.
 */
export class PeerListener {
  private server: Server | null = null;
  private tlsServer: TlsServer | null = null;
  /** Every inbound socket still open (raw sockets), for the cap and for close(). */
  private readonly sockets = new Set<Socket>();
  private handshaking = 0;
  /** Handshakes waiting for TLS, by remote address: how a TLS socket finds its handshake. */
  private readonly awaitingTls = new Map<string, Handshake>();
  /** The current connection of each `${src}>${dst}`. */
  private readonly current = new Map<string, Socket>();
  private readonly warnings: WarnLimiter;
  private closed = false;

  constructor(private readonly context: ListenerContext) {
    this.warnings = new WarnLimiter(context.log);
  }

  /** Listens; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const tls = this.context.tls;
    if (tls !== null) {
      const tlsServer = tls.createServer(this.context.handshakeTimeoutMs);
      tlsServer.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
      tlsServer.on('tlsClientError', (error: Error, socket: TLSSocket) =>
        this.tlsFailed(error, socket),
      );
      this.tlsServer = tlsServer;
    }
    const server = createServer((socket) => this.admit(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const socket of this.sockets) socket.destroy();
    for (const socket of this.current.values()) socket.destroy();
    this.server?.close();
  }

  // ---- the handshake ------------------------------------------------------------------------

  private admit(raw: Socket): void {
    const { stats, maxHandshakes, maxConnections } = this.context;
    stats.connectionsAccepted++;
    const remote = `${raw.remoteAddress}:${raw.remotePort}`;
    if (
      this.closed ||
      raw.remoteAddress === undefined ||
      this.handshaking >= maxHandshakes ||
      this.sockets.size >= maxConnections
    ) {
      stats.connectionsRefused++;
      this.warnings.warn(
        'refused',
        { remote, handshaking: this.handshaking, connections: this.sockets.size },
        'too many peer connections: refused one',
      );
      raw.destroy();
      return;
    }
    this.sockets.add(raw);
    this.handshaking++;
    raw.setNoDelay(true);
    const handshake: Handshake = {
      raw,
      remote,
      stream: null,
      settled: false,
      timer: setTimeout(
        () => this.fail(handshake, 'handshakeTimeouts', 'no handshake in time'),
        this.context.handshakeTimeoutMs,
      ),
    };
    raw.on('error', (error) => this.context.log.debug({ remote, err: error.message }, 'inbound'));
    raw.on('close', () => {
      this.sockets.delete(raw);
      this.fail(handshake, 'handshakeFailures', 'closed before its Hello');
    });
    if (this.tlsServer === null) {
      this.serve(raw, handshake);
    } else {
      this.awaitingTls.set(remote, handshake);
      this.tlsServer.emit('connection', raw);
    }
  }

  private secured(socket: TLSSocket): void {
    const handshake = this.awaitingTls.get(`${socket.remoteAddress}:${socket.remotePort}`);
    if (handshake === undefined || handshake.settled) {
      socket.destroy();
      return;
    }
    this.awaitingTls.delete(handshake.remote);
    this.serve(socket, handshake);
  }

  private tlsFailed(error: Error, socket: TLSSocket): void {
    const handshake = this.awaitingTls.get(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.destroy();
    if (handshake === undefined) return;
    // A client certificate the CA did not sign is rejected after the TLS handshake, with only
    // "socket hang up" as the error; the reason is on the socket.
    const reason = socket.authorizationError ?? error.message;
    this.fail(handshake, 'handshakeFailures', `TLS: ${String(reason)}`);
  }

  /** Counts and closes a connection that did not complete its handshake (once). */
  private fail(handshake: Handshake, counter: Failure, reason: string): void {
    if (handshake.settled) return;
    this.settle(handshake);
    this.context.stats[counter]++;
    this.warnings.warn(
      counter,
      { remote: handshake.remote, reason },
      counter === 'badFrames'
        ? 'bad frame from peer: closing connection'
        : 'peer handshake failed: closing connection',
    );
    handshake.stream?.destroy();
    handshake.raw.destroy();
  }

  private settle(handshake: Handshake): void {
    handshake.settled = true;
    clearTimeout(handshake.timer);
    this.handshaking--;
    this.awaitingTls.delete(handshake.remote);
  }

  // ---- frames -------------------------------------------------------------------------------

  private serve(stream: Socket, handshake: Handshake): void {
    handshake.stream = stream;
    const { catalogue, log, stats } = this.context;
    const decoder = new FrameDecoder(this.context.maxHelloFrameBytes);
    let link: { readonly peer: NodeId; readonly key: string } | null = null;
    const reject = (reason: string): false => {
      if (!handshake.settled) {
        this.fail(handshake, 'badFrames', reason);
      } else {
        stats.badFrames++;
        this.warnings.warn(
          'badFrames',
          { remote: handshake.remote, peer: link?.peer, reason },
          'bad frame from peer: closing connection',
        );
        stream.destroy();
      }
      return false;
    };
    const onValue = (value: unknown): boolean => {
      if (link === null) {
        const ends = this.checkHello(value, stream, handshake);
        if (ends === null) return false;
        link = this.establish(stream, handshake, ends);
        decoder.maxFrameBytes = this.context.maxFrameBytes;
        return true;
      }
      const reason = catalogue.invalid(value);
      if (reason !== null) return reject(reason);
      const message = value as NetMessage;
      if (message.src !== link.peer || !this.context.isMe(message.dst)) {
        return reject(`message ${message.src}>${message.dst} on the link from ${link.peer}`);
      }
      stats.framesIn++;
      this.context.deliver(message);
      return true;
    };
    stream.on('data', (chunk: Buffer) => {
      if (stream.destroyed) return;
      try {
        decoder.feed(chunk, onValue);
      } catch (error) {
        if (error instanceof FrameError) reject(error.message);
        else throw error;
      }
    });
    stream.on('error', (error) =>
      log.debug({ remote: handshake.remote, err: error.message }, 'inbound error'),
    );
    stream.on('close', () => {
      this.sockets.delete(handshake.raw);
      if (link === null) {
        this.fail(handshake, 'handshakeFailures', 'closed before its Hello');
      } else if (this.current.get(link.key) === stream) {
        this.current.delete(link.key);
        if (!this.closed) this.context.linkDown(link.peer);
      }
    });
  }

  /** The Hello's ends when it is acceptable on this stream, else null (counted and closed). */
  private checkHello(value: unknown, stream: Socket, handshake: Handshake): HelloEnds | null {
    const { clusterId, tls } = this.context;
    const ends = checkHello(value, clusterId, (id) => this.context.isMe(id));
    if (ends === null) {
      this.fail(handshake, 'handshakeFailures', 'bad Hello (another cluster or node?)');
      return null;
    }
    if (tls !== null) {
      const cert = (stream as TLSSocket).getPeerCertificate();
      if (!tls.idsOf(cert).has(ends.src)) {
        this.fail(
          handshake,
          'handshakeFailures',
          `the Hello claims node ${ends.src} but the certificate names ${tls.describe(cert)}`,
        );
        return null;
      }
    }
    return ends;
  }

  private establish(stream: Socket, handshake: Handshake, ends: HelloEnds) {
    this.settle(handshake);
    const key = `${ends.src}>${ends.dst}`;
    const older = this.current.get(key);
    this.current.set(key, stream);
    if (older !== undefined) {
      // The peer redialled before we saw its old connection close (or, without TLS, someone
      // claims its id). The old one is dead to us: closing it is not a LinkDown.
      this.context.stats.connectionsReplaced++;
      this.context.log.info(
        { peer: ends.src, remote: handshake.remote },
        'a newer connection from this peer replaces the older one',
      );
      older.destroy();
    }
    return { peer: ends.src, key };
  }
}
