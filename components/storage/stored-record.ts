import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { StoredEntry, StoredSnapshot } from './storage-port.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A record on disk: a 4-byte CRC-32 of the body, then the msgpack body. */
export function sealRecord(body: unknown): Uint8Array {
  const encoded = packr.pack(body);
  const record = new Uint8Array(4 + encoded.length);
  new DataView(record.buffer).setUint32(0, crc32(encoded), false);
  record.set(encoded, 4);
  return record;
}

/** The body of a record, or undefined when the record is torn or corrupt. */
export function openRecord(record: Uint8Array): unknown {
  if (record.length < 5) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const body = record.subarray(4);
  if (view.getUint32(0, false) !== crc32(body)) return undefined;
  try {
    return packr.unpack(body);
  } catch {
    return undefined;
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

export function sealEntry(entry: StoredEntry): Uint8Array {
  return sealRecord([entry.zxid, entry.payload]);
}

export function openEntry(record: Uint8Array): StoredEntry | undefined {
  const body = openRecord(record);
  if (!Array.isArray(body) || body.length !== 2) return undefined;
  const [zxid, payload] = body as unknown[];
  if (typeof zxid !== 'number' || !isBytes(payload)) return undefined;
  return { zxid, payload };
}

export function sealSnapshot(snapshot: StoredSnapshot): Uint8Array {
  return sealRecord([snapshot.zxid, snapshot.state]);
}

export function openSnapshot(record: Uint8Array): StoredSnapshot | undefined {
  const entry = openEntry(record);
  return entry === undefined ? undefined : { zxid: entry.zxid, state: entry.payload };
}
