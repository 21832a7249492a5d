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

/** A frame: 4-byte big-endian body length, then the msgpack body. */
export function encodeFrame(value: unknown): Buffer {
  const body = packr.pack(value);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frames and decodes them. Chunks are kept in a list and joined only
 * when a frame is complete, so a frame split across many chunks costs one copy; a length over
 * the limit is rejected from its header, before anything is buffered for it.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly unpackr = new Packr({ useRecords: false });

  constructor(private readonly maxFrameBytes: number) {}

  /** Appends bytes; returns every value completed by them. Throws FrameError on bad input. */
  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const values: unknown[] = [];
    let data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    let offset = 0;
    while (data.length - offset >= HEADER_BYTES) {
      const length = data.readUInt32BE(offset);
      if (length > this.maxFrameBytes) {
        throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (data.length - offset - HEADER_BYTES < length) break;
      const body = data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      offset += HEADER_BYTES + length;
      values.push(this.decode(body));
    }
    if (offset === data.length) {
      this.chunks = [];
      this.buffered = 0;
    } else {
      data = data.subarray(offset);
      this.chunks = [data];
      this.buffered = data.length;
    }
    return values;
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
