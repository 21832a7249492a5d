import assert from 'node:assert/strict';
import type { KvOutcome, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import { entryBytes, evaluateWrite, readOutcome, type Versioned } from './write-rules.js';

/**
 * What both state stores share: the apply rule (write-rules.ts), the applied zxid and the counts
 * the quota and metrics read. A store says how to read and write one key.
 */
export abstract class StateStoreCore {
  private applied: Zxid;
  private bytesValue = 0;
  private sizeValue = 0;

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

  bytesOf(key: string): number {
    const entry = this.read(key);
    return entry === undefined ? 0 : entryBytes(key, entry.value);
  }

  get(key: string): KvOutcome {
    return readOutcome(this.read(key));
  }

  protected applyWrite(zxid: Zxid, write: KvWrite): KvOutcome {
    if (!(zxid > this.applied)) assert.fail(`apply ${zxid} after ${this.applied}`);
    this.applied = zxid;
    this.noteApplied(zxid);
    const current = this.read(write.key);
    const { outcome, next } = evaluateWrite(zxid, write, current);
    if (next === 'unchanged') return outcome;
    this.bytesValue +=
      (next === undefined ? 0 : entryBytes(write.key, next.value)) -
      (current === undefined ? 0 : entryBytes(write.key, current.value));
    this.sizeValue += (next === undefined ? 0 : 1) - (current === undefined ? 0 : 1);
    this.write(zxid, write.key, next, current);
    return outcome;
  }

  /** The key's content as applied so far (in memory). */
  protected abstract read(key: string): Versioned | undefined;
  /** Records the key's new content, applied at `zxid`, replacing `current`. */
  protected abstract write(
    zxid: Zxid,
    key: string,
    next: Versioned | undefined,
    current: Versioned | undefined,
  ): void;
  /** Every applied zxid, including writes that changed nothing (a failed condition). */
  protected noteApplied(_zxid: Zxid): void {}

  protected resetApplied(zxid: Zxid): void {
    this.applied = zxid;
  }

  protected setCounts(bytes: number, size: number): void {
    this.bytesValue = bytes;
    this.sizeValue = size;
  }
}
