import assert from 'node:assert/strict';
import type { StoredEntry } from '../components/storage/index.js';
import { ZxidRecords } from '../kv/zxid-records.js';
import { epochBound, epochOf, follows, type Zxid } from '../kv/zxid.js';

/**
 * A replica's accepted history in memory: the durable log plus what is on its way to disk
 * (storage applies writes in order, so the two differ only by writes already requested).
 * Entries are contiguous (docs/zab-rules.md R9). `base` is the history point just before the
 * first entry when
 * it is known (0 for a log from the very start, or the snapshot zxid after a SNAP); the
 * state machine, not the log, holds the applied state.
 */
export class ReplicaLog {
  /**
   * The entries' payloads as records (kv/zxid-records.ts: a log of tens of thousands of small
   * entries, held for minutes, is otherwise three objects an entry for every young-generation
   * collection to copy). Each record's tally is the payload bytes appended up to and including
   * it, counted from an arbitrary origin (compaction keeps the counts, so nothing is
   * recounted): bytesAfter is a subtraction.
   */
  private readonly records = new ZxidRecords();
  private baseZxid: Zxid | null;
  /** The count at the base, before the first entry. */
  private baseAppended = 0;

  constructor(base: Zxid | null, entries: readonly StoredEntry[]) {
    this.baseZxid = base;
    let appended = 0;
    // Out of order is refused by the records (an AssertionError).
    for (const { zxid, payload } of entries) {
      appended += payload.byteLength;
      this.records.appendCopy(zxid, payload, appended);
    }
  }

  get base(): Zxid | null {
    return this.baseZxid;
  }

  get length(): number {
    return this.records.length;
  }

  /** The last zxid of the history (the vote's lastLoggedZxid). */
  get last(): Zxid {
    return this.records.newestZxid() ?? this.baseZxid ?? 0;
  }

  get first(): Zxid | undefined {
    return this.records.oldestZxid();
  }

  /** Whether `zxid` is a point of this history that sync can start from. */
  contains(zxid: Zxid): boolean {
    return zxid === this.baseZxid || this.records.keyAtOrBefore(zxid)?.zxid === zxid;
  }

  /** The entry logged at `zxid`; its payload is a view into the log's storage. */
  entry(zxid: Zxid): StoredEntry | undefined {
    const record = this.records.atOrBefore(zxid);
    return record?.zxid === zxid ? { zxid, payload: record.bytes } : undefined;
  }

  /** Payload bytes of the entries after `zxid` (a point this history contains). */
  bytesAfter(zxid: Zxid): number {
    const through = this.records.keyAtOrBefore(zxid)?.tally ?? this.baseAppended;
    return (this.records.newestTally() ?? this.baseAppended) - through;
  }

  /** Entries with zxid > `zxid`, in order (payloads are views into the log's storage). */
  after(zxid: Zxid): StoredEntry[] {
    return this.between(zxid, Infinity);
  }

  /** Entries in (from, to], in order (payloads are views into the log's storage). */
  between(from: Zxid, to: Zxid): StoredEntry[] {
    const entries: StoredEntry[] = [];
    this.records.forEachAfter(from, ({ zxid, bytes }) => {
      if (zxid > to) return false;
      entries.push({ zxid, payload: bytes });
      return true;
    });
    return entries;
  }

  /**
   * The end of the next slice after `zxid`: the zxid of the last of at most `maxEntries`
   * entries holding at most `maxBytes` of payload (at least one entry); `zxid` itself if no
   * entry follows it.
   */
  sliceEnd(zxid: Zxid, maxEntries: number, maxBytes: number): Zxid {
    let end = zxid;
    let count = 0;
    let bytes = 0;
    this.records.forEachSizeAfter(zxid, (at, size) => {
      if (count >= maxEntries) return false;
      bytes += size;
      if (count > 0 && bytes > maxBytes) return false;
      end = at;
      count++;
      return true;
    });
    return end;
  }

  /**
   * Calls `visit` with the zxid and payload size of each entry at or before `zxid`, newest
   * first, until it returns false.
   */
  forEachBackFrom(zxid: Zxid, visit: (zxid: Zxid, payloadBytes: number) => boolean): void {
    this.records.forEachBackFrom(zxid, visit);
  }

  /** Appends copies of the entries (the callers' buffers are not kept). */
  append(entries: readonly StoredEntry[]): void {
    for (const { zxid, payload } of entries) {
      const previous = this.records.newestZxid() ?? this.baseZxid;
      if (!(previous === null ? zxid > 0 : follows(previous, zxid)))
        assert.fail(`log gap: ${zxid} after ${previous}`);
      const before = this.records.newestTally() ?? this.baseAppended;
      this.records.appendCopy(zxid, payload, before + payload.byteLength);
    }
  }

  /** Drops entries above `zxid` (TRUNC). */
  truncateAfter(zxid: Zxid): void {
    while ((this.records.newestZxid() ?? -Infinity) > zxid) this.records.dropNewest();
  }

  /** Drops entries at or below `zxid`, which a snapshot covers. */
  compactThrough(zxid: Zxid): void {
    while ((this.records.oldestZxid() ?? Infinity) <= zxid) {
      const dropped = this.records.dropOldest();
      this.baseZxid = dropped.zxid;
      this.baseAppended = dropped.tally;
    }
  }

  /** Replaces the history by a snapshot at `zxid` (SNAP). */
  resetTo(zxid: Zxid): void {
    this.records.clear();
    this.baseAppended = 0;
    this.baseZxid = zxid;
  }

  /** The last zxid of each epoch, ascending: ACKEPOCH carries it to find the common prefix. */
  epochEnds(): Zxid[] {
    const ends: Zxid[] = [];
    if (this.baseZxid !== null && this.baseZxid > 0) ends.push(this.baseZxid);
    this.records.forEachSizeAfter(-Infinity, (zxid) => {
      if (ends.length > 0 && epochOf(ends.at(-1)!) === epochOf(zxid)) ends[ends.length - 1] = zxid;
      else ends.push(zxid);
      return true;
    });
    return ends;
  }

  /** The last zxid this history holds in `epoch`, if it holds any it knows of. */
  lastInEpoch(epoch: number): Zxid | undefined {
    const last = this.records.keyAtOrBefore(epochBound(epoch))?.zxid;
    if (last !== undefined && epochOf(last) === epoch) return last;
    return this.baseZxid !== null && epochOf(this.baseZxid) === epoch ? this.baseZxid : undefined;
  }
}
