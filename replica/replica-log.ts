import assert from 'node:assert/strict';
import type { StoredEntry } from '../components/storage/index.js';
import { epochOf, follows, type Zxid } from '../kv/zxid.js';

/**
 * A replica's accepted history in memory: the durable log plus what is on its way to disk
 * (storage applies writes in order, so the two differ only by writes already requested).
 * Entries are contiguous (docs/zab-rules.md R9). `base` is the history point just before the
 * first entry when
 * it is known (0 for a log from the very start, or the snapshot zxid after a SNAP); the
 * state machine, not the log, holds the applied state.
 */
export class ReplicaLog {
  private entries: StoredEntry[];
  private baseZxid: Zxid | null;
  /**
   * Payload bytes appended up to and including each entry, counted from an arbitrary origin
   * (compaction keeps the counts, so nothing is recounted): bytesAfter is a subtraction.
   */
  private appendedThrough: number[];
  /** The count at the base, before the first entry. */
  private baseAppended = 0;

  constructor(base: Zxid | null, entries: readonly StoredEntry[]) {
    this.baseZxid = base;
    this.entries = [...entries];
    this.appendedThrough = [];
    let appended = 0;
    for (let i = 0; i < this.entries.length; i++) {
      if (i > 0) assert(this.entries[i]!.zxid > this.entries[i - 1]!.zxid, 'log out of order');
      appended += this.entries[i]!.payload.byteLength;
      this.appendedThrough.push(appended);
    }
  }

  get base(): Zxid | null {
    return this.baseZxid;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The last zxid of the history (the vote's lastLoggedZxid). */
  get last(): Zxid {
    return this.entries.at(-1)?.zxid ?? this.baseZxid ?? 0;
  }

  get first(): Zxid | undefined {
    return this.entries[0]?.zxid;
  }

  /** Whether `zxid` is a point of this history that sync can start from. */
  contains(zxid: Zxid): boolean {
    return zxid === this.baseZxid || this.indexOf(zxid) >= 0;
  }

  entry(zxid: Zxid): StoredEntry | undefined {
    const index = this.indexOf(zxid);
    return index < 0 ? undefined : this.entries[index];
  }

  /** Payload bytes of the entries after `zxid` (a point this history contains). */
  bytesAfter(zxid: Zxid): number {
    const index = this.upperBound(zxid) - 1;
    const through = index < 0 ? this.baseAppended : this.appendedThrough[index]!;
    return (this.appendedThrough.at(-1) ?? this.baseAppended) - through;
  }

  /** Entries with zxid > `zxid`, in order. */
  after(zxid: Zxid): StoredEntry[] {
    return this.entries.slice(this.upperBound(zxid));
  }

  /** Entries in (from, to], in order. */
  between(from: Zxid, to: Zxid): StoredEntry[] {
    return this.entries.slice(this.upperBound(from), this.upperBound(to));
  }

  /**
   * The end of the next slice after `zxid`: the zxid of the last of at most `maxEntries`
   * entries holding at most `maxBytes` of payload (at least one entry); `zxid` itself if no
   * entry follows it.
   */
  sliceEnd(zxid: Zxid, maxEntries: number, maxBytes: number): Zxid {
    const start = this.upperBound(zxid);
    let end = start;
    let bytes = 0;
    while (end < this.entries.length && end - start < maxEntries) {
      bytes += this.entries[end]!.payload.byteLength;
      if (end > start && bytes > maxBytes) break;
      end++;
    }
    return end === start ? zxid : this.entries[end - 1]!.zxid;
  }

  append(entries: readonly StoredEntry[]): void {
    for (const entry of entries) {
      const previous = this.entries.at(-1)?.zxid ?? this.baseZxid;
      if (!(previous === null ? entry.zxid > 0 : follows(previous, entry.zxid)))
        assert.fail(`log gap: ${entry.zxid} after ${previous}`);
      this.entries.push(entry);
      const before = this.appendedThrough.at(-1) ?? this.baseAppended;
      this.appendedThrough.push(before + entry.payload.byteLength);
    }
  }

  /** Drops entries above `zxid` (TRUNC). */
  truncateAfter(zxid: Zxid): void {
    this.entries.length = this.upperBound(zxid);
    this.appendedThrough.length = this.entries.length;
  }

  /** Drops entries at or below `zxid`, which a snapshot covers. */
  compactThrough(zxid: Zxid): void {
    const drop = this.upperBound(zxid);
    if (drop === 0) return;
    this.baseZxid = this.entries[drop - 1]!.zxid;
    this.baseAppended = this.appendedThrough[drop - 1]!;
    this.entries = this.entries.slice(drop);
    this.appendedThrough = this.appendedThrough.slice(drop);
  }

  /** Replaces the history by a snapshot at `zxid` (SNAP). */
  resetTo(zxid: Zxid): void {
    this.entries = [];
    this.appendedThrough = [];
    this.baseAppended = 0;
    this.baseZxid = zxid;
  }

  /** The last zxid of each epoch, ascending: ACKEPOCH carries it to find the common prefix. */
  epochEnds(): Zxid[] {
    const ends: Zxid[] = [];
    if (this.baseZxid !== null && this.baseZxid > 0) ends.push(this.baseZxid);
    for (const { zxid } of this.entries) {
      if (ends.length > 0 && epochOf(ends.at(-1)!) === epochOf(zxid)) ends[ends.length - 1] = zxid;
      else ends.push(zxid);
    }
    return ends;
  }

  /** The last zxid this history holds in `epoch`, if it holds any it knows of. */
  lastInEpoch(epoch: number): Zxid | undefined {
    let found: Zxid | undefined;
    if (this.baseZxid !== null && epochOf(this.baseZxid) === epoch) found = this.baseZxid;
    // Entries are few epochs long; a backwards scan stops at the first older epoch.
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const zxid = this.entries[i]!.zxid;
      if (epochOf(zxid) === epoch) return zxid;
      if (epochOf(zxid) < epoch) break;
    }
    return found;
  }

  private indexOf(zxid: Zxid): number {
    const index = this.upperBound(zxid) - 1;
    return index >= 0 && this.entries[index]!.zxid === zxid ? index : -1;
  }

  /** The index of the first entry with zxid > `zxid`. */
  private upperBound(zxid: Zxid): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.zxid <= zxid) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
