import assert from 'node:assert/strict';
import Denque from 'denque';
import type { Zxid } from './zxid.js';

/**
 * A chunk's size when its first record fits: the log a replica keeps between checkpoints
 * (tens of thousands of 100 B writes) or a watch history (50,000 events) spans a few dozen.
 * The first chunks are smaller, doubling up to it: a simulation runs thousands of replicas
 * that each log a few entries.
 */
const CHUNK_BYTES = 1 << 20;
const FIRST_CHUNK_BYTES = 16 << 10;
/** Records a chunk takes at most, however small: its arrays shrink only with it. */
const CHUNK_RECORDS = 1 << 16;

/** Records written back to back in one buffer, with each one's zxid, end and tally beside it. */
class Chunk {
  readonly zxids: number[] = [];
  /** Where each record ends: the next one starts there. */
  readonly ends: number[] = [];
  readonly tallies: number[] = [];
  /** The first record still held: older ones were dropped. */
  start = 0;
  /**
   * Set by dropNewest: what follows goes to a new chunk, so no byte is ever written twice (a
   * dropped record's bytes may still be seen through a view).
   */
  sealed = false;

  constructor(readonly bytes: Buffer) {}

  get held(): number {
    return this.zxids.length - this.start;
  }

  /** Bytes written, in a chunk that takes more (unsealed). */
  get used(): number {
    return this.ends.at(-1) ?? 0;
  }

  startOf(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  sizeOf(i: number): number {
    return this.ends[i]! - this.startOf(i);
  }

  record(i: number): ZxidRecord {
    return { zxid: this.zxids[i]!, bytes: this.bytes.subarray(this.startOf(i), this.ends[i]!) };
  }
}

/** One record: its bytes are a view into the chunk, which they keep alive while held. */
export interface ZxidRecord {
  readonly zxid: Zxid;
  readonly bytes: Buffer;
}

/**
 * Byte records in increasing zxid order, kept back to back in chunks of a megabyte rather than
 * as a buffer each. Thousands of writes a second each held for minutes (a replica's log between
 * checkpoints, a watch history) were, as objects, most of what every young-generation collection
 * had to copy and promote; here a record costs three numbers in arrays. A record's bytes are
 * never written again once written, so a view handed out stays what it was.
 * Each record carries a number, its `tally`, for the caller's own accounting.
 */
export class ZxidRecords {
  private readonly chunks = new Denque<Chunk>();
  private heldValue = 0;

  get length(): number {
    return this.heldValue;
  }

  /**
   * Appends a record of `size` bytes after every one held, written by `write` from `at` (it
   * returns the offset it stopped at, which must be `at + size`).
   */
  append(zxid: Zxid, size: number, tally: number, write: (bytes: Buffer, at: number) => number) {
    const newest = this.newestZxid();
    assert(newest === undefined || zxid > newest, 'records come in zxid order');
    const last = this.chunks.peekBack();
    const fits =
      last !== undefined &&
      !last.sealed &&
      last.bytes.length - last.used >= size &&
      last.zxids.length < CHUNK_RECORDS;
    const chunkBytes = Math.min(CHUNK_BYTES, 2 * (last?.bytes.length ?? FIRST_CHUNK_BYTES / 2));
    const chunk = fits ? last : new Chunk(Buffer.allocUnsafeSlow(Math.max(chunkBytes, size)));
    const end = write(chunk.bytes, chunk.used);
    assert.equal(end, chunk.used + size, 'a record is written at the size it said');
    if (!fits) this.chunks.push(chunk);
    chunk.zxids.push(zxid);
    chunk.ends.push(end);
    chunk.tallies.push(tally);
    this.heldValue++;
  }

  /** Appends a copy of `bytes`. */
  appendCopy(zxid: Zxid, bytes: Uint8Array, tally: number): void {
    this.append(zxid, bytes.byteLength, tally, (chunk, at) => {
      chunk.set(bytes, at);
      return at + bytes.byteLength;
    });
  }

  oldestZxid(): Zxid | undefined {
    const chunk = this.chunks.peekFront();
    return chunk?.zxids[chunk.start];
  }

  newestZxid(): Zxid | undefined {
    return this.chunks.peekBack()?.zxids.at(-1);
  }

  /** The newest record's tally, or undefined when none is held. */
  newestTally(): number | undefined {
    return this.chunks.peekBack()?.tallies.at(-1);
  }

  /** Drops the oldest record; returns its zxid and tally. */
  dropOldest(): { zxid: Zxid; tally: number } {
    const chunk = this.chunks.peekFront();
    assert(chunk !== undefined, 'a record to drop');
    const dropped = { zxid: chunk.zxids[chunk.start]!, tally: chunk.tallies[chunk.start]! };
    chunk.start++;
    this.heldValue--;
    if (chunk.held === 0) this.chunks.shift();
    return dropped;
  }

  /** Drops the newest record; returns its tally. */
  dropNewest(): number {
    const chunk = this.chunks.peekBack();
    assert(chunk !== undefined, 'a record to drop');
    chunk.zxids.pop();
    chunk.ends.pop();
    const tally = chunk.tallies.pop()!;
    chunk.sealed = true;
    this.heldValue--;
    if (chunk.held === 0) this.chunks.pop();
    return tally;
  }

  clear(): void {
    this.chunks.clear();
    this.heldValue = 0;
  }

  /** The newest record at or before `zxid`, with its tally; undefined when none is. */
  atOrBefore(zxid: Zxid): (ZxidRecord & { readonly tally: number }) | undefined {
    const found = this.locate(zxid);
    if (found === undefined) return undefined;
    const { chunk, i } = found;
    return { ...chunk.record(i), tally: chunk.tallies[i]! };
  }

  /** The zxid and tally of the newest record at or before `zxid` (atOrBefore without a view). */
  keyAtOrBefore(zxid: Zxid): { readonly zxid: Zxid; readonly tally: number } | undefined {
    const found = this.locate(zxid);
    return found && { zxid: found.chunk.zxids[found.i]!, tally: found.chunk.tallies[found.i]! };
  }

  private locate(zxid: Zxid): { readonly chunk: Chunk; readonly i: number } | undefined {
    const c = this.firstChunkAfter(zxid);
    // Chunk c holds the first record after `zxid`, if any: the one sought is just before it,
    // in c or at the end of the chunk before.
    for (let index = c; index >= Math.max(0, c - 1); index--) {
      const chunk = this.chunks.peekAt(index);
      if (chunk === undefined) continue;
      const i = firstIndexAfter(chunk, zxid) - 1;
      if (i >= chunk.start) return { chunk, i };
    }
    return undefined;
  }

  /** Calls `visit` with each record after `zxid`, oldest first, until it returns false. */
  forEachAfter(zxid: Zxid, visit: (record: ZxidRecord, tally: number) => boolean): void {
    this.walkAfter(zxid, (chunk, i) => visit(chunk.record(i), chunk.tallies[i]!));
  }

  /**
   * Calls `visit` with the zxid and size of each record after `zxid`, oldest first, until it
   * returns false: forEachAfter without making views.
   */
  forEachSizeAfter(zxid: Zxid, visit: (zxid: Zxid, size: number) => boolean): void {
    this.walkAfter(zxid, (chunk, i) => visit(chunk.zxids[i]!, chunk.sizeOf(i)));
  }

  private walkAfter(zxid: Zxid, visit: (chunk: Chunk, i: number) => boolean): void {
    for (let c = this.firstChunkAfter(zxid); c < this.chunks.length; c++) {
      const chunk = this.chunks.peekAt(c)!;
      for (let i = firstIndexAfter(chunk, zxid); i < chunk.zxids.length; i++) {
        if (!visit(chunk, i)) return;
      }
    }
  }

  /**
   * Calls `visit` with the zxid, size and tally of each record at or before `zxid`, newest
   * first, until it returns false (no view is made: a walk back costs what it visits).
   */
  forEachBackFrom(zxid: Zxid, visit: (zxid: Zxid, size: number, tally: number) => boolean): void {
    for (let c = Math.min(this.firstChunkAfter(zxid), this.chunks.length - 1); c >= 0; c--) {
      const chunk = this.chunks.peekAt(c)!;
      for (let i = firstIndexAfter(chunk, zxid) - 1; i >= chunk.start; i--) {
        if (!visit(chunk.zxids[i]!, chunk.sizeOf(i), chunk.tallies[i]!)) return;
      }
    }
  }

  /** The first chunk whose newest record is after `zxid` (binary search: zxids increase). */
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
