import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { StoredEntry, StoredSnapshot } from './storage-port.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * A record on disk: the body's length and CRC-32 (4 bytes each, big-endian), then the msgpack
 * body. The length tells a torn write (fewer bytes than announced: the write never finished)
 * from a damaged one (all bytes there, checksum wrong), as etcd's WAL does.
 */
export function sealRecord(body: unknown): Uint8Array {
  const encoded = packr.pack(body);
  const record = new Uint8Array(HEADER_BYTES + encoded.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, encoded.length, false);
  view.setUint32(4, crc32(encoded), false);
  record.set(encoded, HEADER_BYTES);
  return record;
}

export const HEADER_BYTES = 8;

export type Opened =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly why: 'torn' | 'corrupt' };

/** The body of a record, or why there is none. */
export function openRecord(record: Uint8Array): Opened {
  if (record.length < HEADER_BYTES) return { ok: false, why: 'torn' };
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const length = view.getUint32(0, false);
  if (record.length < HEADER_BYTES + length) return { ok: false, why: 'torn' };
  if (record.length > HEADER_BYTES + length) return { ok: false, why: 'corrupt' };
  const body = record.subarray(HEADER_BYTES);
  if (view.getUint32(4, false) !== crc32(body)) return { ok: false, why: 'corrupt' };
  try {
    return { ok: true, body: packr.unpack(body) };
  } catch {
    return { ok: false, why: 'corrupt' };
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

export function sealEntry(entry: StoredEntry): Uint8Array {
  return sealRecord([entry.zxid, entry.payload]);
}

export function openEntry(record: Uint8Array): StoredEntry | 'torn' | 'corrupt' {
  const opened = openRecord(record);
  if (!opened.ok) return opened.why;
  const body = opened.body;
  if (!Array.isArray(body) || body.length !== 2) return 'corrupt';
  const [zxid, payload] = body as unknown[];
  if (typeof zxid !== 'number' || !isBytes(payload)) return 'corrupt';
  return { zxid, payload };
}

export function sealSnapshot(snapshot: StoredSnapshot): Uint8Array {
  return sealRecord([snapshot.zxid, snapshot.state]);
}

export function openSnapshot(record: Uint8Array): StoredSnapshot | 'torn' | 'corrupt' {
  const entry = openEntry(record);
  return typeof entry === 'string' ? entry : { zxid: entry.zxid, state: entry.payload };
}
