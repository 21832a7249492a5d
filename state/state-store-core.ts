import assert from 'node:assert/strict';
import type { KvOutcome, KvTxn, KvWrite } from '../kv/kv-operation.js';
import type { TxnOpResult } from '../kv/txn.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateChange } from './state-store.js';
import {
  entryBytes,
  evaluateWrite,
  headBytes,
  headOf,
  readOutcome,
  type KeyHead,
  type Versioned,
} from './write-rules.js';

/** What one write changes of the quota's byte count and the key count. */
export interface CountsDelta {
  readonly bytes: number;
  readonly size: number;
}

/**
 * What both state stores share: the apply rule (write-rules.ts), the applied zxid and the counts
 * the quota and metrics read. A store says how to read and write one key.
 */
export abstract class StateStoreCore {
  private applied: Zxid;
  private bytesValue = 0;
  private sizeValue = 0;
  private changes: StateChange[] = [];

  constructor(applied: Zxid) {
    this.applied = applied;
  }

  get appliedZxid(): Zxid {
    return this.applied;
  }

  get bytes(): number {
    return this.bytesValue;
  }

  get size(): number {
    return this.sizeValue;
  }

  get lastChanges(): readonly StateChange[] {
    return this.changes;
  }

  bytesOf(key: string): number {
    return headBytes(key, this.head(key));
  }

  get(key: string): KvOutcome {
    return readOutcome(this.read(key));
  }

  protected applyWrite(zxid: Zxid, write: KvWrite): KvOutcome {
    this.advanceTo(zxid);
    return this.change(zxid, write);
  }

  /**
   * A transaction at `zxid`: every compare is checked against the state before it, then each op
   * of the branch chosen runs in order, each write through the same rule and the same `write`
   * as a single put or delete, all at this one zxid (so it is one step for every reader).
   */
  protected applyTransaction(zxid: Zxid, txn: KvTxn): KvOutcome {
    this.advanceTo(zxid);
    const succeeded = txn.compare.every(({ key, version }) => {
      const current = this.read(key);
      return version === 0 ? current === undefined : current?.version === version;
    });
    const results: TxnOpResult[] = (succeeded ? txn.success : txn.failure).map((op) => {
      if (op.op === 'get') {
        const entry = this.read(op.key);
        return entry === undefined
          ? { op: 'get', key: op.key, version: 0 }
          : { op: 'get', key: op.key, version: entry.version, value: entry.value };
      }
      const outcome = this.change(zxid, op);
      return op.op === 'put'
        ? { op: 'put', key: op.key, version: zxid }
        : { op: 'delete', key: op.key, deleted: outcome.status === 204 };
    });
    return { status: 200, version: zxid, txn: { succeeded, results } };
  }

  private advanceTo(zxid: Zxid): void {
    if (!(zxid > this.applied)) assert.fail(`apply ${zxid} after ${this.applied}`);
    this.applied = zxid;
    this.changes = [];
    this.noteApplied(zxid);
  }

  private change(zxid: Zxid, write: KvWrite): KvOutcome {
    const current = this.head(write.key);
    const { outcome, next } = evaluateWrite(zxid, write, current);
    if (next === 'unchanged') return outcome;
    const delta: CountsDelta = {
      bytes:
        (next === undefined ? 0 : entryBytes(write.key, next.value)) -
        headBytes(write.key, current),
      size: (next === undefined ? 0 : 1) - (current === undefined ? 0 : 1),
    };
    this.bytesValue += delta.bytes;
    this.sizeValue += delta.size;
    this.write(zxid, write.key, next, delta);
    this.changes.push({ key: write.key, value: next?.value });
    return outcome;
  }

  /** The key's content as applied so far (in memory). */
  protected abstract read(key: string): Versioned | undefined;

  /** The key's version and value size as applied so far: what a write needs of it. */
  protected head(key: string): KeyHead | undefined {
    return headOf(this.read(key));
  }

  /** Records the key's new content, applied at `zxid`, which changes the counts by `delta`. */
  protected abstract write(
    zxid: Zxid,
    key: string,
    next: Versioned | undefined,
    delta: CountsDelta,
  ): void;
  /** Every applied zxid, including writes that changed nothing (a failed condition). */
  protected noteApplied(_zxid: Zxid): void {}

  protected resetApplied(zxid: Zxid): void {
    this.applied = zxid;
    this.changes = [];
  }

  protected setCounts(bytes: number, size: number): void {
    this.bytesValue = bytes;
    this.sizeValue = size;
  }
}
