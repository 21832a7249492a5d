import { createHash } from 'node:crypto';
import type { Condition, KvOutcome, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateEntry } from './state-store.js';

/** What a key holds, as both state stores see it. */
export interface Versioned {
  readonly value: Uint8Array;
  readonly version: Zxid;
}

/**
 * What a write needs of a key's current content: its version (conditions) and its value's size
 * (the quota's byte count), not the value itself, which a store on disk need not copy out.
 */
export interface KeyHead {
  readonly version: Zxid;
  readonly valueBytes: number;
}

/** An entry's size as the quota counts it: its key in UTF-8 plus its value. */
export function entryBytes(key: string, value: Uint8Array): number {
  return Buffer.byteLength(key, 'utf8') + value.byteLength;
}

/** Key order: by UTF-8 bytes (lmdb's order), which is code point order, not UTF-16 order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function headOf(entry: Versioned | undefined): KeyHead | undefined {
  return entry === undefined
    ? undefined
    : { version: entry.version, valueBytes: entry.value.byteLength };
}

/** The same size, of an entry of which only the head was read (0: absent). */
export function headBytes(key: string, head: KeyHead | undefined): number {
  return head === undefined ? 0 : Buffer.byteLength(key, 'utf8') + head.valueBytes;
}

export function conditionHolds(
  condition: Condition | undefined,
  current: { readonly version: Zxid } | undefined,
): boolean {
  if (condition === undefined) return true;
  if ('ifNoneMatch' in condition) return current === undefined;
  if (current === undefined) return false;
  return condition.ifMatch === '*' || condition.ifMatch === current.version;
}

/**
 * The one rule both stores apply: what `write` at `zxid` does to a key holding `current`.
 * `next` is the key's new content (undefined: absent), or `unchanged` when nothing changes.
 */
export function evaluateWrite(
  zxid: Zxid,
  write: KvWrite,
  current: { readonly version: Zxid } | undefined,
): { readonly outcome: KvOutcome; readonly next: Versioned | undefined | 'unchanged' } {
  if (!conditionHolds(write.condition, current)) {
    // What the key holds goes with the refusal: a compare-and-set loop needs no extra read.
    const outcome: KvOutcome = {
      status: 412,
      current: current === undefined ? null : current.version,
    };
    return { outcome, next: 'unchanged' };
  }
  if (write.op === 'put') {
    return { outcome: { status: 200, version: zxid }, next: { value: write.value, version: zxid } };
  }
  if (current === undefined) return { outcome: { status: 404 }, next: 'unchanged' };
  return { outcome: { status: 204 }, next: undefined };
}

export function readOutcome(entry: Versioned | undefined): KvOutcome {
  return entry === undefined
    ? { status: 404 }
    : { status: 200, version: entry.version, value: entry.value };
}

/** A digest of entries in key order: equal states give equal digests, whatever their store. */
export function digestOf(entries: Iterable<StateEntry>): string {
  const hash = createHash('sha256');
  for (const { key, version, value } of entries) {
    hash.update(`${key.length}:${key}:${version}:${value.length}:`).update(value);
  }
  return hash.digest('hex');
}
