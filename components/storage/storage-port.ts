import { portType } from '../kernel/index.js';

/** One transaction of the replicated log: its zxid and the encoded operation. */
export interface StoredEntry {
  readonly zxid: number;
  readonly payload: Uint8Array;
}

/** A snapshot of the state machine: committed state only, as of `zxid`. */
export interface StoredSnapshot {
  readonly zxid: number;
  readonly state: Uint8Array;
}

/**
 * What a node finds on disk when it starts. `damage` says what the store had to discard:
 * `torn-tail` is a last record that never finished writing (normal after a crash: it was not
 * durable, so nothing was ever acknowledged for it); `corrupt` is a bad record anywhere else
 * or a bad snapshot, after which the store hands back an empty image that may not vote.
 */
export interface StoredImage {
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  /**
   * False for a node whose data is empty without having been initialized as a founding member
   * (a wiped or damaged disk): it must not vote or count toward a quorum until it has synced
   * (ZOOKEEPER-261). Set by the first durable SetCurrentEpoch.
   */
  readonly voter: boolean;
  readonly snapshot: StoredSnapshot | null;
  /** Contiguous log entries in zxid order; may start at or before the snapshot's zxid. */
  readonly log: readonly StoredEntry[];
  readonly damage: 'none' | 'torn-tail' | 'corrupt';
}

export interface Load {
  readonly kind: 'Load';
}

/** Every write carries a sequence number chosen by the writer, increasing by one per write. */
interface Write<K extends string> {
  readonly kind: K;
  readonly seq: number;
}

export interface Append extends Write<'Append'> {
  readonly entries: readonly StoredEntry[];
}

/** Drops every log entry above `afterZxid` (TRUNC). */
export interface Truncate extends Write<'Truncate'> {
  readonly afterZxid: number;
}

export interface SetAcceptedEpoch extends Write<'SetAcceptedEpoch'> {
  readonly epoch: number;
}

/** Also makes the node a voter: it now holds a history a quorum accepted. */
export interface SetCurrentEpoch extends Write<'SetCurrentEpoch'> {
  readonly epoch: number;
}

/** Stores a snapshot of committed state; the log is left alone. */
export interface SaveSnapshot extends Write<'SaveSnapshot'> {
  readonly snapshot: StoredSnapshot;
}

/** Replaces the snapshot and the whole log (SNAP sync): the log restarts after the snapshot. */
export interface InstallSnapshot extends Write<'InstallSnapshot'> {
  readonly snapshot: StoredSnapshot;
}

/** Drops log entries at or below `throughZxid`, which a durable snapshot covers. */
export interface Compact extends Write<'Compact'> {
  readonly throughZxid: number;
}

/** Every write kind, for providers that handle them all alike. */
export const STORAGE_WRITE_KINDS = [
  'Append',
  'Truncate',
  'SetAcceptedEpoch',
  'SetCurrentEpoch',
  'SaveSnapshot',
  'InstallSnapshot',
  'Compact',
] as const;

export type StorageWrite =
  Append | Truncate | SetAcceptedEpoch | SetCurrentEpoch | SaveSnapshot | InstallSnapshot | Compact;

export interface Loaded {
  readonly kind: 'Loaded';
  readonly image: StoredImage;
}

/** Every write with a sequence number up to `seq` is on disk. */
export interface Durable {
  readonly kind: 'Durable';
  readonly seq: number;
}

/**
 * A batch of writes failed (ENOSPC, EIO, …). None of the writes since the last `Durable` is
 * ever reported durable: the store has rolled back to what a crash now could have left (every
 * durable write, maybe some later ones in order, a torn tail cut off) and ignores every write
 * until the next `Load`, which it answers with exactly that. Writes after that Load are taken
 * again (the next one may fail too, or succeed once space is back). `seq`: the last write
 * requested before the failure (none up to it will be reported durable). The node stays up:
 * the writer decides what a failure means for it.
 */
export interface WriteFailed {
  readonly kind: 'WriteFailed';
  readonly seq: number;
  readonly reason: string;
  /** The disk is full (ENOSPC, EDQUOT), as opposed to an I/O error. */
  readonly noSpace: boolean;
}

/**
 * The store's free space crossed its reserve (`--min-free-bytes`, plus room for the next
 * snapshot): told once at start and on every change. Below it (`low`) the writer should
 * refuse new data before the disk fills; the store itself still takes every write.
 */
export interface SpaceLow {
  readonly kind: 'SpaceLow';
  readonly low: boolean;
  /** Twice the reserve is free: room to take over a low leader's writes (space-monitor.ts). */
  readonly roomy: boolean;
  readonly freeBytes: number;
}

export type StorageRequest = Load | StorageWrite;
export type StorageIndication = Loaded | Durable | WriteFailed | SpaceLow;

/**
 * Durable storage of one replica: its log, its two epochs, its latest snapshot.
 *
 * Contract: writes take effect in the order they are requested, and durability is
 * prefix-closed: `Durable{seq}` means every earlier write is durable too, and after a crash
 * the disk holds every durable write, possibly some later ones in order, and nothing out of
 * order. Many writes share one flush (group commit). This ordering is what makes ZAB's
 * "log the history, then write currentEpoch, then ACK" (docs/zab-rules.md R3) hold across
 * crashes.
 * A failed write is never a silent loss: the store reports `WriteFailed`, rolls back to its last
 * durable state and waits for a `Load` (see WriteFailed); a store that cannot even roll back
 * stops the node.
 */
export const Storage = portType<StorageRequest, StorageIndication>('Storage');
