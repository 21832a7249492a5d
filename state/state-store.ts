import type { KvLogged, KvOutcome, KvTxn, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import { applyDeleteRange } from './range-reads.js';

/** One key of a group's applied state. */
export interface StateEntry {
  readonly key: string;
  /** The zxid of the write that produced this value: unique and increasing per group. */
  readonly version: Zxid;
  readonly value: Uint8Array;
}

/** What an apply did to one key: its new value, or undefined when it deleted the key. */
export interface StateChange {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/**
 * A consistent view of the applied state at `zxid`, read in pieces of bounded size so that no
 * handler encodes the whole state at once (SNAP sync). Pieces hold entries in key order.
 */
export interface SnapshotReader {
  readonly zxid: Zxid;
  /** The next piece (piece-codec.ts) of about `maxBytes`, or null when every entry was read. */
  next(maxBytes: number): Uint8Array | null;
  /** Ends the view (an lmdb read transaction); safe to call twice. */
  close(): void;
}

/**
 * A snapshot received in pieces (SNAP sync), staged beside the live state until `finish`, after
 * which the store switches to it once it is on disk: `durableZxid` reaches the snapshot's zxid.
 */
export interface StateInstall {
  readonly zxid: Zxid;
  /** The store switched to this state, which is on disk (seen by `poll`). */
  readonly installed: boolean;
  /** The store could not write it (a full disk): it never will; the live state stays. */
  readonly failed: boolean;
  /**
   * How many pieces the store has written (not yet durable; seen by `poll`). A follower
   * acknowledges a piece only once it is written, so a leader's window bounds what waits in
   * memory for the store, however much faster the network is than the disk.
   */
  readonly piecesWritten: number;
  /** Takes the next piece; returns why it is not one (hostile input), having taken nothing. */
  add(piece: Uint8Array): string | null;
  /** Every piece is in: the store switches to this state once it is durable. */
  finish(): void;
  /** The sync ended before `finish`: the staged state is dropped, the live one stays. */
  abort(): void;
}

/**
 * The applied key-value state of one group replica: the committed prefix of the log, applied in
 * zxid order. Deterministic, so every replica that applies the same prefix holds the same state.
 * Keys are ordered by their UTF-8 bytes.
 *
 * Durability (etcd's backend beside its WAL): `apply` changes the state at once in memory; the
 * applies reach the store's disk only once `release` says their log entries are durable (so the
 * state on disk never runs ahead of the log on disk); `checkpoint` asks for what is released to be
 * made durable, and `durableZxid` says how far that got, so the log behind it may be compacted. A
 * crash leaves the state of some released zxid at or after `durableZxid`; a restart reads it back.
 */
export interface StateStore {
  /** The last zxid applied (in memory). */
  readonly appliedZxid: Zxid;
  /** The released state is flushed through this zxid (see `checkpoint`). */
  readonly durableZxid: Zxid;
  /**
   * A snapshot opened now is of this zxid or a later one: what the store's disk holds, durable
   * or not, which lags `appliedZxid` by what waits for the log's fsync and the store's commit.
   * The replica keeps its log in memory from here on, so that the entries a SNAP sends after
   * its snapshot continue it.
   */
  readonly snapshotZxid: Zxid;
  /** Keys held. */
  readonly size: number;
  /** Key (UTF-8) and value bytes summed over every entry: what the quota counts. */
  readonly bytes: number;
  /** What the entry under `key` counts towards `bytes`; 0 when there is none. */
  bytesOf(key: string): number;
  get(key: string): KvOutcome;
  /** Applies a committed write at `zxid` (> appliedZxid) and returns its outcome. */
  apply(zxid: Zxid, write: KvWrite): KvOutcome;
  /**
   * Applies a committed transaction at `zxid` (> appliedZxid): its compares against the state
   * before it, then the branch they choose, every write at `zxid`; a 200 with `txn` set.
   */
  applyTxn(zxid: Zxid, txn: KvTxn): KvOutcome;
  /**
   * The keys the last `apply` or `applyTxn` changed, in the order it changed them (none for a
   * write whose condition failed): what watchers are told (events come from apply outcomes).
   */
  readonly lastChanges: readonly StateChange[];
  /** Entries with `from` <= key < `to` (null: no end) in key order, at most `limit`. */
  range(from: string, to: string | null, limit: number): StateEntry[];
  /** The log entries through `zxid` are durable: the applies through it may reach the disk. */
  release(zxid: Zxid): void;
  /**
   * Drops the applies not yet released: the state is again what the disk will hold. After a
   * `failure`, also what was released but never written: the state is what the disk holds, and
   * writes are taken again.
   */
  revertUnreleased(): void;
  /**
   * Why the disk refused a write (ENOSPC, …), or null. From then on nothing more is written
   * until `revertUnreleased`; the replica reloads, as after a failed log write.
   */
  readonly failure: string | null;
  /**
   * Log bytes to apply between two checkpoints at least: what a checkpoint costs (lmdb copies
   * its whole file; a store where it costs nothing says 0). The replica trims its log in memory
   * more often than that; the log on disk waits for the checkpoint.
   */
  readonly checkpointLogBytes: number;
  /**
   * Asks for the released state to be made durable (lmdb: a copy of its file); returns the zxid
   * `durableZxid` will reach.
   */
  checkpoint(): Zxid;
  /**
   * Takes in what the disk finished since the last call (flushes, an install): called from the
   * replica's handlers, so the state changes only at points the protocol chose.
   */
  poll(): void;
  openSnapshot(): SnapshotReader;
  beginInstall(zxid: Zxid): StateInstall;
  /** A digest of the contents (tests): equal states give equal digests. */
  digest(): string;
}

/**
 * Applies a logged operation, a put, a delete, a transaction or a prefix delete batch, at `zxid`
 * (the replica's apply).
 */
export function applyLogged(state: StateStore, zxid: Zxid, logged: KvLogged): KvOutcome {
  if (logged.op === 'deleteRange') return applyDeleteRange(state, zxid, logged);
  return logged.op === 'txn' ? state.applyTxn(zxid, logged) : state.apply(zxid, logged);
}
