import assert from 'node:assert/strict';
import Denque from 'denque';
import type { Zxid } from '../kv/zxid.js';
import type { WatchChange, WatchEvent } from './watch-port.js';

/**
 * A chunk's size when its first event fits: a million keys' history (50,000 events of a 100 B
 * value) spans a dozen of them.
 */
const CHUNK_BYTES = 1 << 20;

const EVENT_TYPES = ['put', 'delete', 'txn'] as const;
const PUT = 0;
const DELETE = 1;
const OMITTED = 2;

/** Events encoded back to back in one buffer, with each one's zxid and offset beside it. */
class Chunk {
  readonly zxids: number[] = [];
  readonly offsets: number[] = [];
  /** What each event counts toward the history's bound (ChangeHistory's measure). */
  readonly counted: number[] = [];
  /** The first event still held: older ones were dropped. */
  start = 0;
  used = 0;

  constructor(readonly bytes: Buffer) {}

  get held(): number {
    return this.zxids.length - this.start;
  }

  end(i: number): number {
    return i + 1 < this.offsets.length ? this.offsets[i + 1]! : this.used;
  }
}

/**
 * The events a ChangeHistory holds, as bytes in chunks of a megabyte rather than as objects.
 * Each held event would otherwise be seven objects (the event, its changes array, a change, a
 * key, a value with its ArrayBuffer …) that live for minutes: at thousands of writes a second
 * every young-generation collection copied them twice, and those copies were most of its
 * pause. Here an event costs no object until a read decodes it.
 */
export class EventChunks {
  private readonly chunks = new Denque<Chunk>();
  private heldValue = 0;

  get length(): number {
    return this.heldValue;
  }

  append(event: WatchEvent, counted: number): void {
    const size = encodedSize(event);
    let chunk = this.chunks.peekBack();
    if (chunk === undefined || chunk.bytes.length - chunk.used < size) {
      chunk = new Chunk(Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, size)));
      this.chunks.push(chunk);
    }
    chunk.zxids.push(event.zxid);
    chunk.offsets.push(chunk.used);
    chunk.counted.push(counted);
    chunk.used = encode(event, chunk.bytes, chunk.used);
    this.heldValue++;
  }

  /** Drops the oldest event; returns its zxid and what it counted. */
  dropOldest(): { zxid: Zxid; counted: number } {
    const chunk = this.chunks.peekFront();
    assert(chunk !== undefined, 'an event to drop');
    const dropped = { zxid: chunk.zxids[chunk.start]!, counted: chunk.counted[chunk.start]! };
    chunk.start++;
    this.heldValue--;
    if (chunk.held === 0) this.chunks.shift();
    return dropped;
  }

  /** The newest event's zxid, or undefined when none is held. */
  newestZxid(): Zxid | undefined {
    return this.chunks.peekBack()?.zxids.at(-1);
  }

  /** Drops the newest event; returns what it counted. */
  dropNewest(): number {
    const chunk = this.chunks.peekBack();
    assert(chunk !== undefined, 'an event to drop');
    chunk.zxids.pop();
    chunk.used = chunk.offsets.pop()!;
    const counted = chunk.counted.pop()!;
    this.heldValue--;
    if (chunk.held === 0) this.chunks.pop();
    return counted;
  }

  clear(): void {
    this.chunks.clear();
    this.heldValue = 0;
  }

  /**
   * Calls `visit` with each event after `zxid`, oldest first, decoded (values copied: the bytes
   * under them are written again after a dropNewest), until it returns false.
   */
  forEachAfter(zxid: Zxid, visit: (event: WatchEvent, counted: number) => boolean): void {
    for (let c = this.firstChunkAfter(zxid); c < this.chunks.length; c++) {
      const chunk = this.chunks.peekAt(c)!;
      for (let i = firstIndexAfter(chunk, zxid); i < chunk.zxids.length; i++) {
        const event = decode(chunk.zxids[i]!, chunk.bytes, chunk.offsets[i]!, chunk.end(i));
        if (!visit(event, chunk.counted[i]!)) return;
      }
    }
  }

  /** The first chunk whose newest event is after `zxid` (binary search: zxids increase). */
  private firstChunkAfter(zxid: Zxid): number {
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.chunks.peekAt(middle)!.zxids.at(-1)! <= zxid) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function firstIndexAfter(chunk: Chunk, zxid: Zxid): number {
  let low = chunk.start;
  let high = chunk.zxids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (chunk.zxids[middle]! <= zxid) low = middle + 1;
    else high = middle;
  }
  return low;
}

// An event: [type u8][changes u32], then each change: [tag u8][key length u32][key utf8], and
// for a put with its value [value length u32][value].
function encodedSize(event: WatchEvent): number {
  let size = 5;
  for (const change of event.changes) {
    size += 5 + Buffer.byteLength(change.key, 'utf8');
    if (change.value !== undefined) size += 4 + change.value.byteLength;
  }
  return size;
}

function encode(event: WatchEvent, bytes: Buffer, at: number): number {
  let offset = bytes.writeUInt8(EVENT_TYPES.indexOf(event.type), at);
  offset = bytes.writeUInt32LE(event.changes.length, offset);
  for (const change of event.changes) {
    const tag = change.type === 'delete' ? DELETE : change.valueOmitted === true ? OMITTED : PUT;
    offset = bytes.writeUInt8(tag, offset);
    const keyBytes = bytes.write(change.key, offset + 4, 'utf8');
    offset = bytes.writeUInt32LE(keyBytes, offset) + keyBytes;
    if (tag === PUT) {
      const value = change.value!;
      offset = bytes.writeUInt32LE(value.byteLength, offset);
      bytes.set(value, offset);
      offset += value.byteLength;
    }
  }
  return offset;
}

function decode(zxid: Zxid, bytes: Buffer, start: number, end: number): WatchEvent {
  const type = EVENT_TYPES[bytes.readUInt8(start)]!;
  const count = bytes.readUInt32LE(start + 1);
  const changes: WatchChange[] = [];
  let offset = start + 5;
  for (let i = 0; i < count; i++) {
    const tag = bytes.readUInt8(offset);
    const keyBytes = bytes.readUInt32LE(offset + 1);
    const key = bytes.toString('utf8', offset + 5, offset + 5 + keyBytes);
    offset += 5 + keyBytes;
    if (tag === DELETE) changes.push({ key, type: 'delete' });
    else if (tag === OMITTED) changes.push({ key, type: 'put', valueOmitted: true });
    else {
      const valueBytes = bytes.readUInt32LE(offset);
      offset += 4;
      const value = new Uint8Array(bytes.subarray(offset, offset + valueBytes));
      changes.push({ key, type: 'put', value });
      offset += valueBytes;
    }
  }
  assert(offset === end, 'an event decodes to its own bytes');
  return { zxid, type, changes };
}
