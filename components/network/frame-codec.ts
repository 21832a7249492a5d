import { Packr } from 'msgpackr';

/** Why a peer's bytes were rejected. The connection that carried them is closed. */
export class FrameError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'FrameError';
  }
}

const HEADER_BYTES = 4;
const packr = new Packr({ useRecords: false });

/**
 * Pieces of a split frame shorter than this are copied into a buffer of the decoder's own
 * instead of being kept, so a frame trickled in tiny TCP segments holds a few large buffers,
 * not millions of small ones.
 */
const SMALL_PIECE_BYTES = 1024;
/** The size of that buffer, at most (less when the rest of the frame is smaller). */
const COALESCE_BYTES = 64 * 1024;

/** A frame: 4-byte big-endian body length, then the msgpack body. */
export function encodeFrame(value: unknown): Buffer {
  const body = packr.pack(value);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frames and decodes them.
 *
 * A frame that lies whole inside one chunk is decoded in place, without a copy. A frame split
 * across chunks is kept as a list of its pieces and joined once, when its last byte arrives, so
 * every byte is copied at most twice however finely it was split (tiny pieces are first
 * gathered into a larger buffer). A length over the limit is rejected from the header alone,
 * before anything is buffered for it.
 *
 * The limit may change between frames: a connection reads its first frame (the Hello) under a
 * small limit and raises it once the Hello is accepted. `feed` hands each value to its callback
 * before it reads the next header, so a raise made there applies to the very next frame, even
 * in the same chunk.
 */
export class FrameDecoder {
  /** The incomplete frame's pieces (header included) and their total length. */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** The incomplete frame's whole length (header and body), once its header is in; else -1. */
  private frameBytes = -1;
  /** Where small pieces are gathered: `gather.subarray(0, gathered)` is the last piece. */
  private gather: Buffer | null = null;
  private gathered = 0;
  /**
   * Binary fields are copied out of the socket's chunk: a value kept (a log entry's payload,
   * for as long as the log holds it) must not keep the whole chunk, and every other message
   * in it, alive with it.
   */
  private readonly unpackr = new Packr({ useRecords: false, copyBuffers: true });

  constructor(
    /** Bodies longer than this are rejected. May be changed between frames. */
    public maxFrameBytes: number,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.pieceBytes;
  }

  /** Appends bytes; returns every value completed by them. Throws FrameError on bad input. */
  push(chunk: Buffer): unknown[] {
    const values: unknown[] = [];
    this.feed(chunk, (value) => {
      values.push(value);
    });
    return values;
  }

  /**
   * Appends bytes and calls `onValue` with each value they complete, in order. `onValue`
   * returns false to stop: the rest of the chunk is dropped and the decoder must not be used
   * again. Throws FrameError on bad input.
   */
  feed(chunk: Buffer, onValue: (value: unknown) => boolean | void): void {
    let offset = 0;
    if (this.pieceBytes > 0) {
      offset = this.continueFrame(chunk);
      if (this.frameBytes >= 0 && this.pieceBytes === this.frameBytes) {
        const frame = this.joinPieces();
        if (onValue(this.decode(frame.subarray(HEADER_BYTES))) === false) return;
      }
    }
    while (chunk.length - offset >= HEADER_BYTES) {
      const length = this.checkLength(chunk.readUInt32BE(offset));
      const end = offset + HEADER_BYTES + length;
      if (end > chunk.length) break;
      const value = this.decode(chunk.subarray(offset + HEADER_BYTES, end));
      offset = end;
      if (onValue(value) === false) return;
    }
    if (offset < chunk.length) {
      // The start of a frame that this chunk does not complete.
      const rest = chunk.subarray(offset);
      this.frameBytes =
        rest.length >= HEADER_BYTES ? HEADER_BYTES + this.checkLength(rest.readUInt32BE(0)) : -1;
      this.addPiece(rest);
    }
  }

  /** Adds the start of `chunk` to the incomplete frame; returns how many bytes it took. */
  private continueFrame(chunk: Buffer): number {
    let offset = 0;
    if (this.frameBytes < 0) {
      // Complete the header first (at most three bytes are missing).
      offset = Math.min(HEADER_BYTES - this.pieceBytes, chunk.length);
      this.addPiece(chunk.subarray(0, offset));
      if (this.pieceBytes < HEADER_BYTES) return offset;
      const header = this.joinPieces();
      this.frameBytes = HEADER_BYTES + this.checkLength(header.readUInt32BE(0));
      this.addPiece(header);
    }
    const take = Math.min(this.frameBytes - this.pieceBytes, chunk.length - offset);
    this.addPiece(chunk.subarray(offset, offset + take));
    return offset + take;
  }

  private addPiece(piece: Buffer): void {
    if (piece.length === 0) return;
    const before = this.pieceBytes;
    this.pieceBytes += piece.length;
    if (this.gather !== null && this.gathered + piece.length <= this.gather.length) {
      piece.copy(this.gather, this.gathered);
      this.gathered += piece.length;
      return;
    }
    this.sealGather();
    if (piece.length >= SMALL_PIECE_BYTES) {
      this.pieces.push(piece);
      return;
    }
    // Room for the rest of the frame (or of its header), up to COALESCE_BYTES.
    const rest = (this.frameBytes < 0 ? HEADER_BYTES : this.frameBytes) - before;
    this.gather = Buffer.allocUnsafe(Math.max(piece.length, Math.min(rest, COALESCE_BYTES)));
    piece.copy(this.gather, 0);
    this.gathered = piece.length;
  }

  private sealGather(): void {
    if (this.gather !== null && this.gathered > 0) {
      this.pieces.push(this.gather.subarray(0, this.gathered));
    }
    this.gather = null;
    this.gathered = 0;
  }

  /** The incomplete frame's bytes as one buffer (one copy), and the decoder empty again. */
  private joinPieces(): Buffer {
    this.sealGather();
    const joined =
      this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.pieceBytes);
    this.pieces = [];
    this.pieceBytes = 0;
    this.frameBytes = -1;
    return joined;
  }

  private checkLength(length: number): number {
    if (length > this.maxFrameBytes) {
      throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    return length;
  }

  private decode(body: Buffer): unknown {
    try {
      return this.unpackr.unpack(body);
    } catch (error) {
      throw new FrameError(
        `undecodable frame: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
