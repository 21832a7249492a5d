import { SNAP_PIECE_BYTES, SNAP_WINDOW_PIECES } from '../components/limits.js';
import type { Zxid } from '../kv/zxid.js';
import type { SnapshotReader } from '../state/state-store.js';
import type { DurableState } from './durable-state.js';
import type { SessionBody } from './zab-messages.js';

/**
 * Pieces read and sent in one turn of the leader. Two (each read, decoded and encoded on the
 * event loop) made the leader's burst end a turn of 20 ms on the CPU at 1M keys under 64
 * writers (bench:scale, 2026-12-03, the SNAP phase's one such turn); the window refills at the
 * leader's burst ends, hundreds a second under load, so one a turn still outruns a follower.
 */
export const SNAP_PIECES_PER_TURN = 1;

/** What a SNAPACK meant: the snapshot is through, more pieces may go, or it was impossible. */
export type SnapAckResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'more' }
  | { readonly kind: 'impossible'; readonly why: string };

/**
 * Streams the applied state to one follower (SNAP) from a consistent view (an lmdb read
 * transaction), a window of pieces ahead of its acknowledgements: no turn sends more than
 * SNAP_PIECES_PER_TURN pieces (reading as many, and the first the one ahead), and heartbeats on
 * the connection never queue behind more than a window.
 * The log after the view's zxid is pinned until the stream ends, so the entries that follow
 * the snapshot are still there to send.
 */
export class SnapshotSender {
  private readonly reader: SnapshotReader;
  private readonly unpin: () => void;
  /** The next piece, read one ahead to know which piece is the last. */
  private ahead: Uint8Array | null;
  private nextPiece = 0;
  private acked = -1;
  private lastPiece = -1;
  private closed = false;

  constructor(
    durable: DurableState,
    private readonly send: (message: SessionBody<'zab.Snap'>) => void,
  ) {
    this.reader = durable.machine.openSnapshot();
    this.unpin = durable.pinLog(this.reader.zxid);
    this.ahead = this.reader.next(SNAP_PIECE_BYTES);
  }

  /** The snapshot's zxid: the log entries after it follow the last piece. */
  get zxid(): Zxid {
    return this.reader.zxid;
  }

  /** The follower acknowledged `piece`: the last one means it holds the whole state durably. */
  onAck(zxid: Zxid, piece: number): SnapAckResult {
    if (zxid !== this.zxid || piece !== this.acked + 1 || piece >= this.nextPiece) {
      const why = `SNAPACK for piece ${piece} of ${zxid}, expected ${this.acked + 1} of ${this.zxid}`;
      return { kind: 'impossible', why };
    }
    this.acked = piece;
    if (piece === this.lastPiece) return { kind: 'done' };
    return { kind: 'more' };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    this.unpin();
  }

  /**
   * Sends up to SNAP_PIECES_PER_TURN pieces while the window has room; true if it has more room.
   * Acknowledgements only open the window: the pieces are read here, which the leader calls
   * once per turn (its burst end), so a turn that takes many SNAPACKs still reads that many,
   * and the window fills over the first few turns.
   */
  fill(): boolean {
    for (let sent = 0; sent < SNAP_PIECES_PER_TURN && this.windowOpen(); sent++) {
      const data = this.ahead!; // windowOpen: a piece is left
      this.ahead = this.reader.next(SNAP_PIECE_BYTES);
      const last = this.ahead === null;
      if (last) this.lastPiece = this.nextPiece;
      this.send({ kind: 'zab.Snap', zxid: this.zxid, piece: this.nextPiece++, last, data });
    }
    return this.windowOpen();
  }

  /** A piece is left to send, and fewer than a window are unacknowledged. */
  private windowOpen(): boolean {
    return this.ahead !== null && this.nextPiece - this.acked - 1 < SNAP_WINDOW_PIECES;
  }
}
