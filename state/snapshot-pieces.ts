import { Packr } from 'msgpackr';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../components/limits.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateEntry } from './state-store.js';
import { compareKeys } from './write-rules.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Bytes a piece spends on an entry beyond its key and value (msgpack headers, the version). */
const ENTRY_OVERHEAD_BYTES = 16;

/** What a piece of `entries` costs, for cutting pieces to size before encoding them. */
export function pieceBytes(entry: StateEntry): number {
  return entry.key.length * 3 + entry.value.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** A snapshot piece: entries in key order, flattened as [key, version, value, …]. */
export function encodePiece(entries: readonly StateEntry[]): Uint8Array {
  const rows: unknown[] = [];
  for (const { key, version, value } of entries) rows.push(key, version, value);
  return packr.pack(rows);
}

/**
 * Reads a piece that came from a peer: hostile until checked. Entries must be well formed,
 * within the limits, no newer than the snapshot, and in strictly increasing key order after
 * `afterKey` (the last key of the previous piece). Returns the entries or why not.
 */
export function decodePiece(
  piece: Uint8Array,
  snapshotZxid: Zxid,
  afterKey: string | null,
): StateEntry[] | string {
  let rows: unknown;
  try {
    rows = packr.unpack(piece);
  } catch (error) {
    return `snapshot piece does not decode: ${(error as Error).message}`;
  }
  if (!Array.isArray(rows) || rows.length % 3 !== 0)
    return 'snapshot piece is not a list of entries';
  const entries: StateEntry[] = [];
  let previous = afterKey;
  for (let i = 0; i < rows.length; i += 3) {
    const key: unknown = rows[i];
    const version: unknown = rows[i + 1];
    const value: unknown = rows[i + 2];
    if (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key) > MAX_KEY_BYTES)
      return 'snapshot entry with a bad key';
    if (!(value instanceof Uint8Array) || value.byteLength > MAX_VALUE_BYTES)
      return `snapshot entry ${JSON.stringify(key)} with a bad value`;
    if (
      !Number.isSafeInteger(version) ||
      (version as number) <= 0 ||
      (version as number) > snapshotZxid
    )
      return `snapshot entry ${JSON.stringify(key)} with an impossible version`;
    if (previous !== null && compareKeys(previous, key) >= 0)
      return `snapshot entry ${JSON.stringify(key)} out of key order`;
    entries.push({ key, version: version as number, value });
    previous = key;
  }
  return entries;
}
