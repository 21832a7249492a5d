import { portType } from '../components/kernel/index.js';
import type { Zxid } from '../kv/zxid.js';

/** One key's change in an applied entry: what a watcher of that key is told. */
export interface WatchChange {
  readonly key: string;
  readonly type: 'put' | 'delete';
  /** Absent for a delete, and for a value over WATCH_VALUE_MAX_BYTES (`valueOmitted`). */
  readonly value?: Uint8Array;
  readonly valueOmitted?: true;
}

/**
 * Every change one applied entry made (events come from apply outcomes: a conditional write
 * that failed made none, and is no event). Its zxid is the version of each value it put.
 */
export interface WatchEvent {
  readonly zxid: Zxid;
  /** `txn` for a transaction; else the type its changes share. */
  readonly type: 'put' | 'delete' | 'txn';
  readonly changes: readonly WatchChange[];
}

/** Which keys a watcher follows: those equal to one of `keys` or starting with one of `prefixes`. */
export interface WatchFilter {
  readonly prefixes: readonly string[];
  readonly keys: readonly string[];
}

/**
 * The changes of `group` after `after` that match `filter`, from whichever replica of the group
 * can give them (this node's own, else one of the group's members over the network). Answered
 * exactly once, by WatchBatch or WatchEnded: at once when there is something to say, else when
 * a matching change is applied or `waitMs` ends (an empty batch that still moves the cursor).
 */
export interface WatchPoll {
  readonly kind: 'WatchPoll';
  readonly id: number;
  readonly group: number;
  /** The last zxid the watcher has; null: from whatever the answering replica has applied. */
  readonly after: Zxid | null;
  readonly filter: WatchFilter;
  readonly waitMs: number;
  /** A batch stops after the first event that brings it to this many bytes of values. */
  readonly maxBytes: number;
}

/** The watcher went away: its poll, if still waiting, is dropped and never answered. */
export interface WatchCancel {
  readonly kind: 'WatchCancel';
  readonly id: number;
}

/**
 * Every change of the group in (poll.after, cursor] that matches the filter, in zxid order,
 * whole entries only. An empty batch says nothing matched through `cursor`.
 */
export interface WatchBatch {
  readonly kind: 'WatchBatch';
  readonly id: number;
  readonly group: number;
  readonly events: readonly WatchEvent[];
  readonly cursor: Zxid;
}

/**
 * The poll cannot be answered with changes: `compacted`, no replica the node could reach still
 * holds the changes right after `poll.after` (a watcher must list again); `unavailable`, the
 * group is unknown here (no lookup table yet, or no such group).
 */
export interface WatchEnded {
  readonly kind: 'WatchEnded';
  readonly id: number;
  readonly group: number;
  readonly reason: 'compacted' | 'unavailable';
}

/** Change history of every group, served from any node (issue 12, watches and long-poll). */
export const Watch = portType<WatchPoll | WatchCancel, WatchBatch | WatchEnded>('Watch');

/** Values above this size are not carried in events: watchers read them if they want them. */
export const WATCH_VALUE_MAX_BYTES = 64 * 1024;
/** At most this many keys and prefixes in one filter (hostile input is bounded). */
export const WATCH_FILTER_MAX_ENTRIES = 64;
/** The longest a poll may wait before it is answered (the HTTP `wait` cap is 300 s). */
export const WATCH_MAX_WAIT_MS = 300_000;
