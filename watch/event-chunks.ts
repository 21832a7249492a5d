import assert from 'node:assert/strict';
import type { Zxid } from '../kv/zxid.js';
import { ZxidRecords, type ZxidRecord } from '../kv/zxid-records.js';
import type { WatchChange, WatchEvent } from './watch-port.js';

const EVENT_TYPES = ['put', 'delete', 'txn'] as const;
const PUT = 0;
const DELETE = 1;
const OMITTED = 2;

/**
 * The events a ChangeHistory holds, encoded as records in chunks of a megabyte rather than as
 * objects. Each held event would otherwise be seven objects (the event, its changes array, a
 * change, a key, a value with its ArrayBuffer …) that live for minutes: at thousands of writes a
 * second every young-generation collection copied them twice, and those copies were most of its
 * pause. Here an event costs no object until a read decodes it.
 */
export class EventChunks {
  private readonly records = new ZxidRecords();

  get length(): number {
    return this.records.length;
  }

  append(event: WatchEvent, counted: number): void {
    this.records.append(event.zxid, encodedSize(event), counted, (bytes, at) =>
      encode(event, bytes, at),
    );
  }

  /** Drops the oldest event; returns its zxid and what it counted. */
  dropOldest(): { zxid: Zxid; counted: number } {
    const { zxid, tally } = this.records.dropOldest();
    return { zxid, counted: tally };
  }

  /** The newest event's zxid, or undefined when none is held. */
  newestZxid(): Zxid | undefined {
    return this.records.newestZxid();
  }

  /** Drops the newest event; returns what it counted. */
  dropNewest(): number {
    return this.records.dropNewest();
  }

  clear(): void {
    this.records.clear();
  }

  /**
   * Calls `visit` with each event after `zxid`, oldest first, decoded (values copied, so that
   * what a reader keeps does not keep a chunk alive), until it returns false.
   */
  forEachAfter(zxid: Zxid, visit: (event: WatchEvent, counted: number) => boolean): void {
    this.records.forEachAfter(zxid, (record, tally) => visit(decode(record), tally));
  }
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

function decode({ zxid, bytes }: ZxidRecord): WatchEvent {
  const type = EVENT_TYPES[bytes.readUInt8(0)]!;
  const count = bytes.readUInt32LE(1);
  const changes: WatchChange[] = [];
  let offset = 5;
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
  assert(offset === bytes.length, 'an event decodes to its own bytes');
  return { zxid, type, changes };
}
