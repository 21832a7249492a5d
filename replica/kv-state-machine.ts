import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Condition, KvOutcome, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';

interface Versioned {
  readonly value: Uint8Array;
  /** The zxid of the write that produced this value: unique and increasing per group. */
  readonly version: number;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * The replicated key-value map: the committed prefix of the log, applied in zxid order.
 * Deterministic, so every replica that applies the same prefix holds the same map.
 */
export class KvStateMachine {
  private readonly entries = new Map<string, Versioned>();
  private applied: Zxid;
  /** The sum of key (UTF-8) and value bytes over every entry: what the quota counts. */
  private bytesValue = 0;

  constructor(appliedZxid: Zxid = 0) {
    this.applied = appliedZxid;
  }

  get appliedZxid(): Zxid {
    return this.applied;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The data held: key (UTF-8) and value bytes summed over every entry, kept as entries change. */
  get bytes(): number {
    return this.bytesValue;
  }

  /** What the entry under `key` counts towards `bytes`; 0 when there is none. */
  bytesOf(key: string): number {
    const entry = this.entries.get(key);
    return entry === undefined ? 0 : entryBytes(key, entry.value);
  }

  get(key: string): KvOutcome {
    const entry = this.entries.get(key);
    return entry === undefined
      ? { status: 404 }
      : { status: 200, version: entry.version, value: entry.value };
  }

  apply(zxid: Zxid, write: KvWrite): KvOutcome {
    if (!(zxid > this.applied)) assert.fail(`apply ${zxid} after ${this.applied}`);
    this.applied = zxid;
    const current = this.entries.get(write.key);
    if (!conditionHolds(write.condition, current)) return { status: 412 };
    const before = current === undefined ? 0 : entryBytes(write.key, current.value);
    if (write.op === 'put') {
      this.entries.set(write.key, { value: write.value, version: zxid });
      this.bytesValue += entryBytes(write.key, write.value) - before;
      return { status: 200, version: zxid };
    }
    if (current === undefined) return { status: 404 };
    this.entries.delete(write.key);
    this.bytesValue -= before;
    return { status: 204 };
  }

  /** The snapshot form: committed state only, as of `appliedZxid`. */
  encode(): Uint8Array {
    const rows: unknown[] = [];
    for (const [key, { value, version }] of this.entries) rows.push(key, version, value);
    return packr.pack([this.applied, rows]);
  }

  static decode(state: Uint8Array): KvStateMachine {
    const [applied, rows] = packr.unpack(state) as [number, unknown[]];
    const machine = new KvStateMachine(applied);
    for (let i = 0; i < rows.length; i += 3) {
      const key = rows[i] as string;
      const value = rows[i + 2] as Uint8Array;
      machine.entries.set(key, { version: rows[i + 1] as number, value });
      machine.bytesValue += entryBytes(key, value);
    }
    return machine;
  }

  /** A digest of the contents, independent of insertion order: equal maps give equal digests. */
  digest(): string {
    const hash = createHash('sha256');
    for (const key of [...this.entries.keys()].sort()) {
      const { value, version } = this.entries.get(key)!;
      hash.update(`${key.length}:${key}:${version}:${value.length}:`).update(value);
    }
    return hash.digest('hex');
  }
}

/** An entry's size as the quota counts it: its key in UTF-8 plus its value. */
export function entryBytes(key: string, value: Uint8Array): number {
  return Buffer.byteLength(key, 'utf8') + value.byteLength;
}

function conditionHolds(condition: Condition | undefined, current: Versioned | undefined): boolean {
  if (condition === undefined) return true;
  if ('ifNoneMatch' in condition) return current === undefined;
  if (current === undefined) return false;
  return condition.ifMatch === '*' || condition.ifMatch === current.version;
}
