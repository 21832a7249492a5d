import { createServer, type Server, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { FrameDecoder, FrameError } from './frame-codec.js';
import { checkHello, type HelloEnds } from './handshake.js';
import type { MessageCatalogue } from './message-catalogue.js';
import type { NetMessage } from './network-port.js';
import type { NodeId } from './node-id.js';
import { peerSource } from './peer-source.js';
import type { PeerTls } from './peer-tls.js';
import { boundedReason, WarnLimiter } from './warn-limiter.js';

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
  /** Connections closed at once: too many connections (or the listener is closing). */
  connectionsRefused: number;
  /**
   * Handshakes closed to make room for a newer connection: their source (an IPv4 address, an
   * IPv6 /64) was at its own cap, or held the most handshakes when every slot was taken.
   */
  handshakesEvicted: number;
  /**
   * Accepted connections closed for sitting on an incomplete frame with no byte arriving for
   * the stall timeout.
   */
  frameStalls: number;
  /**
   * Connections closed because the bytes of incomplete frames buffered across all inbound
   * connections went over the budget: each held the largest such frame at the time.
   */
  bufferEvictions: number;
  /** Bytes of incomplete frames buffered now, across all inbound connections (a gauge). */
  bufferedBytes: number;
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
  /** Handshakes in progress from one source (peer-source.ts) before its oldest is closed. */
  readonly maxHandshakesPerSource: number;
  readonly maxConnections: number;
  /** An accepted connection with an incomplete frame and no byte for this long is closed. */
  readonly frameStallTimeoutMs: number;
  /** Bytes of incomplete frames across all inbound connections before the largest is closed. */
  readonly maxBufferedBytes: number;
  /** At most one warn (or info) line per kind of trouble per this; the rest go to debug. */
  readonly warnIntervalMs: number;
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
  /** What it counts against for the per-source cap (peer-source.ts). */
  readonly source: string;
  /** Admission order: lower is older. */
  readonly seq: number;
  readonly timer: NodeJS.Timeout;
  /** The stream its frames arrive on: the raw socket, or the TLS socket over it. */
  stream: Socket | null;
  /** Accepted, or failed and counted: either way no longer handshaking. */
  settled: boolean;
}

type Failure = 'handshakeFailures' | 'handshakeTimeouts' | 'badFrames' | 'handshakesEvicted';

/** One stream being read (from the start of its handshake), and what it holds. */
interface Inbound {
  readonly stream: Socket;
  readonly handshake: Handshake;
  readonly decoder: FrameDecoder;
  /** The accepted Hello's peer and `${src}>${dst}`; null until then. */
  link: { readonly peer: NodeId; readonly key: string } | null;
  /** Of the decoder's buffered bytes, those counted in `stats.bufferedBytes`. */
  counted: number;
  /** Chunks read so far: any arriving byte is progress on an incomplete frame. */
  chunks: number;
  /** Runs while an accepted connection holds an incomplete frame; refreshed by every chunk. */
  stall: NodeJS.Timeout | null;
}

/**
 * The receiving side of the peer port. Every connection must complete its handshake (TLS when
 * on, then a Hello whose src the certificate names) within a timeout, under a small frame
 * limit, and only so many may be handshaking at once; a dialler that never finishes or sends a
 * huge frame is closed before it costs memory. After the Hello, each message must come from the
 * peer the Hello named, to this node, and be valid. One connection is current for each
 * (dialler, id dialled): a newer one replaces it, and only the close of the current one is a
 * LinkDown. Memory is bounded after the Hello too: a connection that stops sending in the
 * middle of a frame is closed after the stall timeout, and the incomplete frames of all
 * connections together stay within a budget.
 */
export class PeerListener {
  private server: Server | null = null;
  private tlsServer: TlsServer | null = null;
  /** Every inbound socket still open (raw sockets), for the cap and for close(). */
  private readonly sockets = new Set<Socket>();
  private handshaking = 0;
  /** Handshakes in progress by source, each set in admission order (oldest first). */
  private readonly handshakesBySource = new Map<string, Set<Handshake>>();
  private admitted = 0;
  /** Every stream being read, for the buffer budget. */
  private readonly inbound = new Set<Inbound>();
  /** Handshakes waiting for TLS, by remote address: how a TLS socket finds its handshake. */
  private readonly awaitingTls = new Map<string, Handshake>();
  /** The current connection of each `${src}>${dst}`. */
  private readonly current = new Map<string, Inbound>();
  private readonly warnings: WarnLimiter;
  private closed = false;

  constructor(private readonly context: ListenerContext) {
    this.warnings = new WarnLimiter(context.log, context.warnIntervalMs);
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
    for (const connection of [...this.inbound]) this.drop(connection);
    this.server?.close();
  }

  // ---- the handshake ------------------------------------------------------------------------

  private admit(raw: Socket): void {
    const { stats, maxConnections } = this.context;
    stats.connectionsAccepted++;
    const remote = `${raw.remoteAddress}:${raw.remotePort}`;
    if (this.closed || raw.remoteAddress === undefined || this.sockets.size >= maxConnections) {
      stats.connectionsRefused++;
      this.warnings.warn(
        'refused',
        { remote, handshaking: this.handshaking, connections: this.sockets.size },
        'too many peer connections: refused one',
      );
      raw.destroy();
      return;
    }
    const source = peerSource(raw.remoteAddress);
    this.makeRoom(source);
    this.sockets.add(raw);
    this.handshaking++;
    raw.setNoDelay(true);
    const handshake: Handshake = {
      raw,
      remote,
      source,
      seq: this.admitted++,
      stream: null,
      settled: false,
      timer: setTimeout(
        () => this.fail(handshake, 'handshakeTimeouts', 'no handshake in time'),
        this.context.handshakeTimeoutMs,
      ),
    };
    let ofSource = this.handshakesBySource.get(source);
    if (ofSource === undefined) {
      ofSource = new Set();
      this.handshakesBySource.set(source, ofSource);
    }
    ofSource.add(handshake);
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

  /**
   * Frees a handshake slot for a newcomer from `source` when it needs one, by closing the
   * oldest handshake of the source that holds the most (the newcomer counted with its own).
   * A newcomer is never refused for want of a slot: refusing let 64 idle sockets from one
   * address lock every peer out until they timed out, over and over. A healthy handshake ends
   * in milliseconds, so the oldest handshakes of the heaviest source are the ones most likely
   * to be idle: one source flooding the slots only ever evicts its own, a source at its own cap
   * always makes room from its own, and a peer's reconnect from anywhere else gets a slot.
   * Ties go to the oldest handshake, so a spread of single idle sockets rotates out.
   */
  private makeRoom(source: string): void {
    const { maxHandshakes, maxHandshakesPerSource } = this.context;
    const own = this.handshakesBySource.get(source);
    if (own !== undefined && own.size >= maxHandshakesPerSource) {
      this.evict(own, 'too many handshakes from its source');
      return;
    }
    if (this.handshaking < maxHandshakes) return;
    let heaviest: Set<Handshake> | undefined;
    let heaviestCount = 0;
    for (const [from, handshakes] of this.handshakesBySource) {
      const count = handshakes.size + (from === source ? 1 : 0);
      if (
        heaviest === undefined ||
        count > heaviestCount ||
        (count === heaviestCount && oldest(handshakes).seq < oldest(heaviest).seq)
      ) {
        heaviest = handshakes;
        heaviestCount = count;
      }
    }
    if (heaviest !== undefined) this.evict(heaviest, 'handshake slots full');
  }

  private evict(handshakes: Set<Handshake>, reason: string): void {
    this.fail(oldest(handshakes), 'handshakesEvicted', `${reason}: closed the oldest`);
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
      { remote: handshake.remote, reason: boundedReason(reason) },
      counter === 'badFrames'
        ? 'bad frame from peer: closing connection'
        : counter === 'handshakesEvicted'
          ? 'too many peer handshakes: closing one to make room'
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
    const ofSource = this.handshakesBySource.get(handshake.source);
    ofSource?.delete(handshake);
    if (ofSource?.size === 0) this.handshakesBySource.delete(handshake.source);
  }

  // ---- frames -------------------------------------------------------------------------------

  private serve(stream: Socket, handshake: Handshake): void {
    handshake.stream = stream;
    const { catalogue, log, stats } = this.context;
    const connection: Inbound = {
      stream,
      handshake,
      decoder: new FrameDecoder(this.context.maxHelloFrameBytes),
      link: null,
      counted: 0,
      chunks: 0,
      stall: null,
    };
    this.inbound.add(connection);
    const reject = (reason: string): false => {
      if (!handshake.settled) {
        this.fail(handshake, 'badFrames', reason);
      } else {
        stats.badFrames++;
        this.warnings.warn(
          'badFrames',
          { remote: handshake.remote, peer: connection.link?.peer, reason: boundedReason(reason) },
          'bad frame from peer: closing connection',
        );
        stream.destroy();
      }
      return false;
    };
    const onValue = (value: unknown): boolean => {
      const link = connection.link;
      if (link === null) {
        const ends = this.checkHello(value, stream, handshake);
        if (ends === null) return false;
        connection.link = this.establish(connection, ends);
        connection.decoder.maxFrameBytes = this.context.maxFrameBytes;
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
      connection.chunks++;
      try {
        connection.decoder.feed(chunk, onValue);
      } catch (error) {
        if (error instanceof FrameError) reject(error.message);
        else throw error;
      }
      if (stream.destroyed) this.release(connection);
      else this.account(connection);
    });
    stream.on('error', (error) =>
      log.debug({ remote: handshake.remote, err: error.message }, 'inbound error'),
    );
    stream.on('close', () => {
      this.sockets.delete(handshake.raw);
      this.release(connection);
      const link = connection.link;
      if (link === null) {
        this.fail(handshake, 'handshakeFailures', 'closed before its Hello');
      } else if (this.current.get(link.key) === connection) {
        this.current.delete(link.key);
        if (!this.closed) this.context.linkDown(link.peer);
      }
    });
  }

  // ---- what incomplete frames hold --------------------------------------------------------

  /** Counts what `connection` buffers after a chunk, watches for a stall, keeps the budget. */
  private account(connection: Inbound): void {
    if (!this.inbound.has(connection)) return;
    const { stats } = this.context;
    const held = connection.decoder.bufferedBytes;
    stats.bufferedBytes += held - connection.counted;
    connection.counted = held;
    if (connection.link !== null) this.watchStall(connection, held);
    if (stats.bufferedBytes > this.context.maxBufferedBytes) this.overBudget();
  }

  /**
   * After the Hello, a connection holding an incomplete frame must keep sending: the chunk
   * that got here is progress and restarts the wait. Before the Hello the handshake timeout
   * already bounds everything.
   */
  private watchStall(connection: Inbound, held: number): void {
    if (held === 0) {
      if (connection.stall !== null) clearTimeout(connection.stall);
      connection.stall = null;
    } else if (connection.stall === null) {
      connection.stall = setTimeout(
        () => this.stalled(connection),
        this.context.frameStallTimeoutMs,
      );
    } else {
      connection.stall.refresh();
    }
  }

  private stalled(connection: Inbound): void {
    const seen = connection.chunks;
    // Timers run before the loop reads its sockets: after this process itself stalled (a long
    // handler, a GC pause) the bytes may be waiting unread. Decide after this turn's reads.
    setImmediate(() => {
      if (connection.chunks !== seen || !this.inbound.has(connection)) return;
      if (connection.decoder.bufferedBytes === 0) return;
      this.context.stats.frameStalls++;
      this.warnings.warn(
        'frameStalls',
        {
          remote: connection.handshake.remote,
          peer: connection.link?.peer,
          bufferedBytes: connection.counted,
          timeoutMs: this.context.frameStallTimeoutMs,
        },
        'peer stopped sending in the middle of a frame: closing connection',
      );
      this.drop(connection);
    });
  }

  /**
   * Over the budget, closes the connections holding the largest incomplete frames until under
   * it. The largest frees the most at one close, and the frames peers really send (proposal
   * and snapshot pieces) are a few MiB at most and complete in milliseconds, while a sender
   * that wants to hold memory must keep its frames large and incomplete. (Pausing reads instead
   * would stall healthy peers behind the ones holding the budget.)
   */
  private overBudget(): void {
    const { stats, maxBufferedBytes } = this.context;
    while (stats.bufferedBytes > maxBufferedBytes) {
      let largest: Inbound | undefined;
      for (const connection of this.inbound) {
        if (connection.counted > (largest?.counted ?? 0)) largest = connection;
      }
      if (largest === undefined) return;
      stats.bufferEvictions++;
      this.warnings.warn(
        'bufferEvictions',
        {
          remote: largest.handshake.remote,
          peer: largest.link?.peer,
          bufferedBytes: largest.counted,
          totalBytes: stats.bufferedBytes,
          budgetBytes: maxBufferedBytes,
        },
        'peer connections buffer too much: closing the one with the largest incomplete frame',
      );
      this.drop(largest);
    }
  }

  /**
   * Closes a stream being read, and stops counting what it holds at once (its close event
   * comes later). Closed before its Hello, it is settled here so that the close is not also
   * counted as a failed handshake: it was counted by whoever closed it.
   */
  private drop(connection: Inbound): void {
    const { handshake } = connection;
    if (!handshake.settled) {
      this.settle(handshake);
      handshake.raw.destroy();
    }
    connection.stream.destroy();
    this.release(connection);
  }

  /** Stops counting `connection` (once): it is closed or closing. */
  private release(connection: Inbound): void {
    if (!this.inbound.delete(connection)) return;
    this.context.stats.bufferedBytes -= connection.counted;
    connection.counted = 0;
    if (connection.stall !== null) clearTimeout(connection.stall);
    connection.stall = null;
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

  private establish(connection: Inbound, ends: HelloEnds) {
    const { handshake } = connection;
    this.settle(handshake);
    const key = `${ends.src}>${ends.dst}`;
    const older = this.current.get(key);
    this.current.set(key, connection);
    if (older !== undefined) {
      // The peer redialled before we saw its old connection close (or, without TLS, someone
      // claims its id). The old one is dead to us: closing it is not a LinkDown. One line per
      // interval at info (a restarted peer is worth seeing); a stranger claiming ids in a loop
      // makes the rest debug lines, counted in the next info line.
      this.context.stats.connectionsReplaced++;
      this.warnings.info(
        'connectionsReplaced',
        { peer: ends.src, remote: handshake.remote },
        'a newer connection from this peer replaces the older one',
      );
      this.drop(older);
    }
    return { peer: ends.src, key };
  }
}

function oldest(handshakes: Set<Handshake>): Handshake {
  // Sets iterate in insertion order, and handshakes are added as they are admitted.
  return handshakes.values().next().value!;
}
