import { Packr } from 'msgpackr';
import type { Zxid } from '../kv/zxid.js';
import { ZxidRecords, type ZxidRecord } from '../kv/zxid-records.js';
import type { WatchEvent } from './watch-port.js';

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
    // A copy of the encoder's output, which is a view into its shared buffer.
    this.records.appendCopy(event.zxid, encoded(event), counted);
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

  /** Calls `visit` with each event after `zxid`, oldest first, decoded, until it returns false. */
  forEachAfter(zxid: Zxid, visit: (event: WatchEvent, counted: number) => boolean): void {
    this.records.forEachAfter(zxid, (record, tally) => visit(decode(record), tally));
  }
}

/**
 * An event as a record: its type and changes in msgpack (the zxid is the record's own). Decoded
 * values are copies (copyBuffers), so what a reader keeps does not keep a chunk alive.
 */
const packr = new Packr({ useRecords: false, copyBuffers: true });

function encoded({ type, changes }: WatchEvent): Uint8Array {
  return packr.pack({ type, changes });
}

function decode({ zxid, bytes }: ZxidRecord): WatchEvent {
  // From a plain Uint8Array view, values decode as Uint8Array (from a Buffer, as Buffers).
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { type, changes } = packr.unpack(view) as Omit<WatchEvent, 'zxid'>;
  return { zxid, type, changes };
}
