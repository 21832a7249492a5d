import type { NodeId } from '../components/network/node-id.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateChange } from '../state/state-store.js';
import type { ChangesApplied, EntryChanges, StateRestored } from './applied-changes-port.js';
import type { ReplicaObserver } from './replica-observer.js';

/**
 * Collects what each applied entry changed and hands it on once per commit (one event for a
 * batch of commits, not one per entry), and tells when the applied state was loaded afresh;
 * also reports both to the replica's observer (simulation checks, metrics).
 */
export class ChangeFeed {
  private entries: EntryChanges[] = [];

  constructor(
    private readonly group: number,
    private readonly self: NodeId,
    private readonly observer: ReplicaObserver | undefined,
    private readonly emit: (event: ChangesApplied | StateRestored) => void,
  ) {}

  applied(zxid: Zxid, payload: Uint8Array, txn: boolean, changes: readonly StateChange[]): void {
    this.observer?.applied?.(this.self, zxid, payload);
    if (changes.length > 0) this.entries.push({ zxid, txn, changes });
  }

  /** The commit that applied the entries since the last flush is done: applied through `applied`. */
  flush(applied: Zxid): void {
    const entries = this.entries;
    this.entries = [];
    this.emit({ kind: 'ChangesApplied', group: this.group, entries, applied });
  }

  restored(applied: Zxid): void {
    this.entries = [];
    this.observer?.restored?.(this.self, applied);
    this.emit({ kind: 'StateRestored', group: this.group, applied });
  }
}
