import { portType } from '../components/kernel/index.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateChange } from '../state/state-store.js';

/** What one committed entry changed when it was applied (watch events come from here). */
export interface EntryChanges {
  readonly zxid: Zxid;
  /** The entry was a transaction (one event of type `txn` for watchers). */
  readonly txn: boolean;
  readonly changes: readonly StateChange[];
}

/**
 * Entries applied as committed, in zxid order, each with the keys it changed; an entry that
 * changed nothing (a failed condition) is left out, but `applied` counts it: the group's applied
 * zxid after them, so a watcher of quiet keys still moves on.
 */
export interface ChangesApplied {
  readonly kind: 'ChangesApplied';
  readonly group: number;
  readonly entries: readonly EntryChanges[];
  readonly applied: Zxid;
}

/**
 * The applied state was loaded at `applied` (start, reload after a failed write, a snapshot
 * installed): changes through it are not known from this replica, and entries after it will be
 * applied (again, for a reload: committed entries never change).
 */
export interface StateRestored {
  readonly kind: 'StateRestored';
  readonly group: number;
  readonly applied: Zxid;
}

/** The applied changes of one group replica, in order, for its node's watch history. */
export const AppliedChanges = portType<never, ChangesApplied | StateRestored>('AppliedChanges');
