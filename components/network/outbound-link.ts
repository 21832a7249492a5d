import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { helloFrame } from './handshake.js';
import type { NodeId, PeerAddress } from './node-id.js';
import type { PeerTls } from './peer-tls.js';

/** What a link needs from its network: settings, the peer's address, counters, the log. */
export interface LinkContext {
  readonly self: NodeId;
  readonly clusterId: string;
  /** Bytes waiting for a connection, or unsent on a slow one, before dropping. */
  readonly maxQueuedBytes: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Dial with TLS, accepting only a receiver whose certificate names the peer. */
  readonly tls: PeerTls | null;
  readonly stats: { connectionsDialed: number; dropped: number; dialHandshakeFailures: number };
  readonly log: Logger;
  address(peer: NodeId): PeerAddress | undefined;
  /** The network is gone: never dial again. */
  closed(): boolean;
  /** A write finished on some link (for Flush). */
  written(): void;
}

/**
 * The sending side of one ordered pair, this node → peer: a queue of encoded frames, the
 * socket that carries them once dialled, and redialling with backoff when it drops. Frames
 * queue while there is no connection and go out when it opens.
 */
export class OutboundLink {
  private socket: Socket | null = null;
  private connected = false;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private backoffMs: number;
  private retry: NodeJS.Timeout | null = null;
  private overflowWarned = false;
  private tlsWarned = false;
  /** When the current connection came up: one that lasts resets the backoff when it drops. */
  private connectedAt = 0;
  /**
   * Writes handed to a socket, and how many of them finished. Both only grow; when a socket
   * closes its unfinished writes count as finished (they never will be), so a Flush waiting
   * for them ends.
   */
  private issued = 0;
  private finished = 0;

  constructor(
    readonly peer: NodeId,
    private readonly context: LinkContext,
  ) {
    this.backoffMs = context.reconnectMinMs;
  }

  /** Queues a frame; true when the link is connected and the caller should flush it soon. */
  enqueue(frame: Buffer): boolean {
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.queuedBytes > this.context.maxQueuedBytes) this.overflow();
    if (this.connected) return true;
    this.dial();
    return false;
  }

  /** Writes everything queued in one write, if connected. */
  writeQueued(): void {
    const socket = this.socket;
    if (!this.connected || socket === null || this.queue.length === 0) return;
    const bytes =
      this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes);
    this.queue = [];
    this.queuedBytes = 0;
    this.write(socket, bytes);
    // A peer that does not read must not make us buffer without bound.
    if (socket.writableLength > this.context.maxQueuedBytes) {
      this.context.stats.dropped++;
      this.context.log.warn(
        { peer: this.peer, buffered: socket.writableLength },
        'peer is not reading: closing link',
      );
      socket.destroy();
    }
  }

  /** How many writes were handed to a socket so far: a mark for `finishedThrough`. */
  get writesIssued(): number {
    return this.issued;
  }

  /** Every write up to `mark` left the process (or its socket closed). */
  finishedThrough(mark: number): boolean {
    return this.finished >= mark;
  }

  /** The peer's address changed: drop the connection, the next frame dials the new one. */
  addressChanged(): void {
    this.socket?.destroy();
  }

  close(): void {
    if (this.retry !== null) clearTimeout(this.retry);
    this.socket?.destroy();
  }

  private write(socket: Socket, bytes: Buffer): void {
    this.issued++;
    socket.write(bytes, () => {
      // A closed socket's writes were already counted as finished.
      if (this.socket !== socket) return;
      this.finished++;
      this.context.written();
    });
  }

  private overflow(): void {
    while (this.queuedBytes > this.context.maxQueuedBytes && this.queue.length > 0) {
      this.queuedBytes -= this.queue.shift()!.length;
      this.context.stats.dropped++;
    }
    if (!this.overflowWarned) {
      this.overflowWarned = true;
      this.context.log.warn(
        { peer: this.peer },
        'peer unreachable and its queue is full: dropping oldest messages',
      );
    }
  }

  private dial(): void {
    if (this.socket !== null || this.retry !== null) return;
    const address = this.context.address(this.peer);
    if (address === undefined) return;
    this.context.stats.connectionsDialed++;
    const tls = this.context.tls;
    const socket =
      tls === null
        ? connect({ host: address.host, port: address.port, noDelay: true })
        : tls.connect(address, this.peer);
    this.socket = socket;
    let reached = false;
    socket.once('connect', () => (reached = true));
    socket.once(tls === null ? 'connect' : 'secureConnect', () => {
      this.connected = true;
      this.connectedAt = Date.now();
      this.overflowWarned = false;
      this.tlsWarned = false;
      this.write(socket, helloFrame(this.context.clusterId, this.context.self, this.peer));
      this.context.log.debug({ peer: this.peer }, 'link up');
      this.writeQueued();
    });
    if (tls !== null) {
      socket.once('error', (error) => {
        // Reached the port but not through TLS: the receiver's certificate is wrong for this
        // peer, or it refused ours. Warned once until a connection succeeds.
        if (!reached || this.connected) return;
        this.context.stats.dialHandshakeFailures++;
        if (!this.tlsWarned) {
          this.tlsWarned = true;
          this.context.log.warn(
            { peer: this.peer, address, err: error.message },
            'TLS handshake with peer failed',
          );
        }
      });
    }
    socket.on('data', () => {}); // the receiver never writes; drain anyway
    socket.on('error', (error) =>
      this.context.log.debug({ peer: this.peer, err: error.message }, 'link error'),
    );
    socket.on('close', () => this.onClose(socket));
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    if (this.connected) this.context.log.debug({ peer: this.peer }, 'link down');
    // A connection that the receiver closes at once (it refused our certificate or Hello) must
    // not reset the backoff, or we would redial it every few milliseconds.
    if (this.connected && Date.now() - this.connectedAt >= this.context.reconnectMaxMs) {
      this.backoffMs = this.context.reconnectMinMs;
    }
    this.socket = null;
    this.connected = false;
    this.finished = this.issued;
    this.context.written();
    if (this.context.closed()) return;
    // Exponential backoff with jitter, so restarted peers are not hammered in lockstep.
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, this.context.reconnectMaxMs);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.queue.length > 0) this.dial();
    }, delay);
  }
}
