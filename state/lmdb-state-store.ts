import type { Database, RootDatabase } from 'lmdb';
import { performance } from 'node:perf_hooks';
import {
  STATE_COMMIT_BATCH_BYTES,
  STATE_COMMIT_BATCH_CHANGES,
  STATE_COMMIT_INTERVAL_MS,
} from '../components/limits.js';
import type { KvOutcome, KvTxn, KvWrite } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import { commitFailureCause, quietCommitFailure } from '../components/storage/disk-store.js';
import {
  changeGrowth,
  GROWTH_MARGIN_BYTES,
  GrowthGate,
  type GrowthReserve,
} from '../components/storage/growth-reserve.js';
import { PiecesWritten } from './pieces-written.js';
import { decodePiece, encodePiece, pieceBytes } from './snapshot-pieces.js';
import type { SnapshotReader, StateEntry, StateInstall, StateStore } from './state-store.js';
import { StateStoreCore, type CountsDelta } from './state-store-core.js';
import {
  compareKeys,
  digestOf,
  entryBytes,
  headOf,
  type KeyHead,
  type Versioned,
} from './write-rules.js';

/** A group's row in the `meta` database, written in the transaction of the applies it counts. */
export interface GroupMeta {
  readonly slot: 0 | 1;
  readonly applied: Zxid;
  readonly bytes: number;
  readonly size: number;
}

/** A key's content in memory while lmdb does not hold it yet; undefined: deleted. */
interface Pending {
  readonly zxid: Zxid;
  readonly next: Versioned | undefined;
}

interface Change extends Pending {
  readonly key: string;
  readonly bytesDelta: number;
  readonly sizeDelta: number;
}

const VERSION_BYTES = 8;
/** Free space kept beside what a transaction may write (lmdb's meta, freelist and growth). */
const STATE_WRITE_MARGIN_BYTES = 4 * 2 ** 20;

/** How often the store starts an lmdb transaction, and how much waits for one at most. */
export interface CommitPacing {
  readonly intervalMs: number;
  readonly batchChanges: number;
  readonly batchBytes: number;
}

export const DEFAULT_COMMIT_PACING: CommitPacing = {
  intervalMs: STATE_COMMIT_INTERVAL_MS,
  batchChanges: STATE_COMMIT_BATCH_CHANGES,
  batchBytes: STATE_COMMIT_BATCH_BYTES,
};

/** How the environment makes a checkpoint durable: a copy of its file (checkpoint-copies.ts). */
export interface CheckpointCopy {
  /** Resolves true once a copy made after this call is durable; false if lmdb closes first. */
  copy(): Promise<boolean>;
  /** Log bytes to apply between two checkpoints (StateStore.checkpointLogBytes). */
  logBytes(): number;
  /** What a power loss would put back of this group: its applied zxid in the copy at start. */
  readonly copyApplied: Zxid;
}

interface InstallStatus {
  installed: boolean;
  failed: boolean;
}

/**
 * The applied state of one group replica in lmdb, sorted by key bytes. Applies change two small
 * maps in memory at once (`unreleased`, then `committing` once released); lmdb gets them in one
 * transaction per `pacing.intervalMs` at most (sooner once a batch is full), one transaction
 * at a time, each with the group's applied zxid and
 * counts, so lmdb always holds the state of one zxid: a failed commit can leave no hole. Reads
 * look at the maps first, then lmdb. Memory holds only what lmdb has not committed yet.
 */
export class LmdbStateStore extends StateStoreCore implements StateStore {
  private slot: 0 | 1;
  private live: Database<Buffer, Buffer>;
  private readonly unreleasedKeys = new Map<string, Pending>();
  private unreleased: Change[] = [];
  private lastApplied: Zxid;
  /** Released, waiting for or in the commit under way. */
  private readonly committing = new Map<string, Pending>();
  private queued: Change[] = [];
  /** Key and value bytes of `queued`: a full batch starts its transaction without waiting. */
  private queuedBytes = 0;
  /** What lmdb holds once every released change is committed. */
  private queuedMeta: GroupMeta;
  private commitUnderWay = false;
  /** No transaction starts before this (performance.now()), unless the batch is full. */
  private nextCommitAt = 0;
  private commitTimer: NodeJS.Timeout | null = null;
  /** The environment closes: what is released is committed without waiting for the interval. */
  private closing = false;
  /** Called by `fail`: a close waits for the commits or for this. */
  private onFailure: (() => void) | null = null;
  private installFinished = false;
  /** Bumped by a switch to an installed state: commits of the state before it are history. */
  private generation = 0;
  /** What lmdb holds once every queued commit is done. */
  private released: GroupMeta;
  private durable: Zxid;
  /** Set by lmdb's promises, taken in by `poll`, so the state changes at protocol points only. */
  private flushedThrough: Zxid | null = null;
  private installedMeta: { meta: GroupMeta; status: InstallStatus } | null = null;
  /** The install whose switch is queued: it fails with the store. */
  private finishing: InstallStatus | null = null;
  private failureValue: Error | null = null;
  private readonly growth: GrowthGate;
  /** The install being received, if any: its written pieces are seen at `poll`. */
  private receiving: PiecesWritten | null = null;

  constructor(
    private readonly root: RootDatabase,
    private readonly meta: Database<GroupMeta, string>,
    private readonly name: string,
    private readonly slots: readonly [Database<Buffer, Buffer>, Database<Buffer, Buffer>],
    /** Free bytes where lmdb writes (statfs): a write it cannot make must never reach lmdb. */
    private readonly freeBytes: () => number,
    /** Blocks held past lmdb's file: a transaction starts only once they cover its growth. */
    reserve: GrowthReserve,
    private readonly checkpoints: CheckpointCopy,
    private readonly pacing: CommitPacing = DEFAULT_COMMIT_PACING,
  ) {
    const stored = meta.get(name) ?? { slot: 0, applied: 0, bytes: 0, size: 0 };
    super(stored.applied);
    this.slot = stored.slot;
    this.live = slots[stored.slot];
    this.released = stored;
    this.lastApplied = stored.applied;
    this.queuedMeta = stored;
    // What a power loss would leave: the copy (power-loss-recovery.ts), not lmdb's file, which
    // was synced at a clean stop but takes unsynced commits from now on, and after a kill -9 has
    // its last commits in the page cache only. Claimed beyond the copy, a log restarted or
    // compacted behind it would leave a hole after the copy is put back.
    this.durable = Math.min(stored.applied, checkpoints.copyApplied);
    this.setCounts(stored.bytes, stored.size);
    this.growth = new GrowthGate(reserve);
  }

  get durableZxid(): Zxid {
    return this.durable;
  }

  get snapshotZxid(): Zxid {
    // openSnapshot reads what lmdb committed, this or a commit whose callback has not run yet.
    return this.released.applied;
  }

  get checkpointLogBytes(): number {
    return this.checkpoints.logBytes();
  }

  /**
   * Reported once no commit is under way: the reload that follows (revertUnreleased) reverts
   * memory to what lmdb holds, which a commit still in flight (the failure came from elsewhere:
   * a snapshot piece, a growth hold) would change after it.
   */
  get failure(): string | null {
    if (this.failureValue === null || this.commitUnderWay) return null;
    return this.failureValue.message;
  }

  /** The key's change applied here and not yet committed to lmdb, if any. */
  private pending(key: string): { readonly next: Versioned | undefined } | undefined {
    return this.unreleasedKeys.get(key) ?? this.committing.get(key);
  }

  protected read(key: string): Versioned | undefined {
    const pending = this.pending(key);
    if (pending !== undefined) return pending.next;
    const stored = this.live.get(Buffer.from(key, 'utf8'));
    return stored === undefined ? undefined : decodeValue(stored);
  }

  /**
   * Every write reads its key's head; taking it from lmdb's reused read buffer (or the map's own
   * memory for a large value) copies nothing and leaves no buffer behind for the GC, where
   * `read` copies the value out. The buffer is good only until the next read: used at once.
   */
  protected override head(key: string): KeyHead | undefined {
    const pending = this.pending(key);
    if (pending !== undefined) return headOf(pending.next);
    const stored = this.live.getBinaryFast(Buffer.from(key, 'utf8'));
    if (stored === undefined) return undefined;
    // lmdb-js sets `length` of its reused buffer to the value's size; byteLength is the buffer's.
    const size = stored.length;
    const version = new DataView(stored.buffer, stored.byteOffset, VERSION_BYTES).getFloat64(0);
    return { version, valueBytes: size - VERSION_BYTES };
  }

  protected write(zxid: Zxid, key: string, next: Versioned | undefined, delta: CountsDelta): void {
    const pending = { zxid, next };
    this.unreleasedKeys.set(key, pending);
    this.unreleased.push({ key, ...pending, bytesDelta: delta.bytes, sizeDelta: delta.size });
  }

  protected override noteApplied(zxid: Zxid): void {
    this.lastApplied = zxid;
  }

  apply(zxid: Zxid, write: KvWrite): KvOutcome {
    return this.applyWrite(zxid, write);
  }

  applyTxn(zxid: Zxid, txn: KvTxn): KvOutcome {
    return this.applyTransaction(zxid, txn);
  }

  range(from: string, to: string | null, limit: number): StateEntry[] {
    const inRange = (key: string): boolean =>
      compareKeys(key, from) >= 0 && (to === null || compareKeys(key, to) < 0);
    const pending = new Map<string, Versioned | undefined>();
    for (const [key, { next }] of this.committing) if (inRange(key)) pending.set(key, next);
    for (const [key, { next }] of this.unreleasedKeys) if (inRange(key)) pending.set(key, next);
    const pendingKeys = [...pending.keys()].sort(compareKeys);
    const result: StateEntry[] = [];
    let p = 0;
    const takePending = (key: string): void => {
      const next = pending.get(key);
      if (next !== undefined) result.push({ key, ...next });
    };
    const stored = this.live.getRange({
      start: Buffer.from(from, 'utf8'),
      ...(to === null ? {} : { end: Buffer.from(to, 'utf8') }),
    });
    for (const { key: keyBytes, value } of stored) {
      if (result.length >= limit) break;
      const key = keyBytes.toString('utf8');
      while (
        p < pendingKeys.length &&
        compareKeys(pendingKeys[p]!, key) < 0 &&
        result.length < limit
      )
        takePending(pendingKeys[p++]!);
      if (result.length >= limit) break;
      if (pending.has(key)) {
        if (pendingKeys[p] === key) p++;
        takePending(key);
      } else {
        result.push({ key, ...decodeValue(value) });
      }
    }
    while (p < pendingKeys.length && result.length < limit) takePending(pendingKeys[p++]!);
    return result;
  }

  release(zxid: Zxid): void {
    const through = Math.min(zxid, this.lastApplied);
    if (through <= this.queuedMeta.applied) return;
    let { bytes, size: count } = this.queuedMeta;
    let taken = 0;
    while (taken < this.unreleased.length && this.unreleased[taken]!.zxid <= through) {
      const change = this.unreleased[taken++]!;
      this.committing.set(change.key, change);
      if (this.unreleasedKeys.get(change.key)?.zxid === change.zxid)
        this.unreleasedKeys.delete(change.key);
      this.queued.push(change);
      this.queuedBytes += change.key.length + (change.next?.value.byteLength ?? 0);
      bytes += change.bytesDelta;
      count += change.sizeDelta;
    }
    this.unreleased.splice(0, taken);
    this.queuedMeta = { slot: this.slot, applied: through, bytes, size: count };
    this.commitNext();
  }

  revertUnreleased(): void {
    if (this.failureValue !== null) {
      // lmdb aborted the failed transaction and none was started after it: it holds `released`.
      this.failureValue = null;
      this.generation++;
      this.commitUnderWay = false;
      this.installFinished = false;
      this.committing.clear();
      this.queued = [];
      this.queuedBytes = 0;
      this.queuedMeta = this.released;
    }
    this.unreleased = [];
    this.unreleasedKeys.clear();
    this.resetApplied(this.queuedMeta.applied);
    this.lastApplied = this.queuedMeta.applied;
    this.setCounts(this.queuedMeta.bytes, this.queuedMeta.size);
  }

  checkpoint(): Zxid {
    const through = this.queuedMeta.applied;
    // lmdb commits without fsync: the state through `through` is durable once a copy made
    // after its commit is (power-loss-recovery.ts).
    const generation = this.generation;
    void this.whenCommitted(through)
      .then(() => this.checkpoints.copy())
      .then(
        (copied) => {
          // A switch to an installed snapshot meanwhile: `through` is another lineage's.
          if (!copied || generation !== this.generation) return;
          this.flushedThrough = Math.max(this.flushedThrough ?? 0, through);
        },
        (error: unknown) => this.fail(error),
      );
    return through;
  }

  /**
   * The environment closes: everything released is committed now, not at the next interval, so
   * a clean restart finds it in lmdb. Resolves once it is (or once lmdb refused a commit: the
   * log replays what is missing).
   */
  close(): Promise<void> {
    this.closing = true;
    if (this.commitTimer !== null) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    if (this.failureValue !== null) return Promise.resolve();
    const failed = new Promise<void>((resolve) => (this.onFailure = resolve));
    this.commitNext();
    return Promise.race([this.whenCommitted(this.queuedMeta.applied), failed]);
  }

  poll(): void {
    this.receiving?.publish();
    // Before a switch, which sets durable to the installed state's zxid.
    if (this.flushedThrough !== null) {
      this.durable = Math.max(this.durable, this.flushedThrough);
      this.flushedThrough = null;
    }
    const installed = this.installedMeta;
    if (installed !== null) {
      this.installedMeta = null;
      // An install that failed since (the store failed: the replica reloads the live state)
      // is never switched to.
      if (installed.status.failed) return;
      installed.status.installed = true;
      this.finishing = null;
      this.switchTo(installed.meta);
    }
  }

  openSnapshot(): SnapshotReader {
    const transaction = this.root.useReadTransaction();
    const stored = this.meta.get(this.name, { transaction }) ?? this.released;
    const db = this.slots[stored.slot];
    let after: Buffer | null = null;
    let started = false;
    let open = true;
    return {
      zxid: stored.applied,
      next(maxBytes: number): Uint8Array | null {
        if (!open) throw new Error('snapshot reader closed');
        const piece: StateEntry[] = [];
        let bytes = 0;
        const range = db.getRange({
          transaction,
          ...(after === null ? {} : { start: after, exclusiveStart: true }),
        });
        for (const { key, value } of range) {
          const entry = { key: key.toString('utf8'), ...decodeValue(value) };
          if (piece.length > 0 && bytes + pieceBytes(entry) > maxBytes) break;
          bytes += pieceBytes(entry);
          piece.push(entry);
          after = key;
        }
        if (piece.length === 0 && started) return null;
        started = true;
        return encodePiece(piece);
      },
      close(): void {
        if (!open) return;
        open = false;
        transaction.done();
      },
    };
  }

  beginInstall(zxid: Zxid): StateInstall {
    const slot: 0 | 1 = this.slot === 0 ? 1 : 0;
    const staging = this.slots[slot];
    // Writes run in the order asked: the clear goes before the first piece.
    settled(staging.clearAsync());
    let lastKey: string | null = null;
    let bytes = 0;
    let count = 0;
    let piecesAdded = 0;
    /** lmdb-js commits writes in the order asked: once this one is in, every piece's is. */
    let lastWrite: Promise<unknown> = Promise.resolve();
    let done = false;
    const status: InstallStatus = { installed: false, failed: false };
    const written = new PiecesWritten();
    this.receiving = written;
    let refused = false;
    const failed = (error: unknown): void => {
      status.failed = true;
      // Every write of the refused transaction is rejected with the same error: one cause.
      if (refused) return;
      refused = true;
      this.failWithCause(error);
    };
    return {
      zxid,
      get installed() {
        return status.installed;
      },
      get failed() {
        return status.failed;
      },
      get piecesWritten() {
        return written.seen;
      },
      add: (piece) => {
        if (done) return 'snapshot piece after the last';
        const entries = decodePiece(piece, zxid, lastKey);
        if (typeof entries === 'string') return entries;
        const room = this.lacksRoomFor(entries);
        if (room !== null) {
          this.fail(new Error(room));
          return room;
        }
        // A piece cannot wait (this is synchronous): the reserve is topped up ahead instead. Its
        // keys come sorted, after the staging's last: they fill new pages end to end.
        const added = entries.reduce((sum, { key, value }) => sum + entryBytes(key, value), 0);
        this.growth.topUp(GROWTH_MARGIN_BYTES + 2 * added);
        // A write that fails leaves a hole in the staged state: the store fails, the install
        // with it. lmdb-js commits writes in the order asked, so the piece is written once its
        // last write is.
        const pieces = ++piecesAdded;
        for (const { key, version, value } of entries) {
          lastWrite = staging.put(Buffer.from(key, 'utf8'), encodeValue({ version, value }));
          lastWrite.then(undefined, failed);
        }
        lastWrite.then(() => written.report(pieces), failed);
        bytes += added;
        count += entries.length;
        lastKey = entries.at(-1)?.key ?? lastKey;
        return null;
      },
      finish: () => {
        done = true;
        this.installFinished = true;
        this.finishing = status;
        const installed: GroupMeta = { slot, applied: zxid, bytes, size: count };
        // The switch is written only over a whole staged state: a piece that failed leaves a
        // hole, which a restart must never find named as the state. The log restarts after the
        // installed state once it is the state: a power loss must find it in the copy, not the
        // state the log was the continuation of.
        lastWrite
          .then(() =>
            status.failed
              ? false
              : this.root
                  .batch(() => settled(this.meta.put(this.name, installed)))
                  .then(() => this.checkpoints.copy()),
          )
          .then(
            // One that failed since is dropped at `poll`.
            (copied) => {
              if (copied) this.installedMeta = { meta: installed, status };
            },
            (error: unknown) => this.failWithCause(error),
          );
      },
      abort: () => {
        done = true;
        settled(staging.clearAsync());
      },
    };
  }

  digest(): string {
    return digestOf(this.range('', null, Number.MAX_SAFE_INTEGER));
  }

  private batchFull(): boolean {
    return (
      this.queued.length >= this.pacing.batchChanges || this.queuedBytes >= this.pacing.batchBytes
    );
  }

  /** Hands the queued changes to lmdb, one transaction at a time (see the class comment). */
  private commitNext(): void {
    if (
      // After a failure nothing more is written until the reload (revertUnreleased).
      this.failureValue !== null ||
      this.installFinished ||
      this.commitUnderWay ||
      this.queuedMeta.applied <= this.released.applied
    )
      return;
    const wait = this.nextCommitAt - performance.now();
    if (wait > 0 && !this.closing && !this.batchFull()) {
      // Unref'd: a process that ends meanwhile loses only what the WAL replays anyway.
      this.commitTimer ??= setTimeout(() => {
        this.commitTimer = null;
        this.commitNext();
      }, wait).unref();
      return;
    }
    const batch = this.queued;
    const room = this.lacksRoomFor(batch);
    if (room !== null) return this.fail(new Error(room));
    const growth = growthBound(batch);
    const generation = this.generation;
    const admitted = this.growth.admit(growth, (held) => {
      if (generation !== this.generation || this.failureValue !== null) return;
      if (held) return this.commitNext();
      this.fail(new Error(`no room for the applied state: the disk refused ${growth} bytes`));
    });
    if (!admitted) return;
    this.nextCommitAt = performance.now() + this.pacing.intervalMs;
    this.queued = [];
    this.queuedBytes = 0;
    const meta = this.queuedMeta;
    const live = this.live;
    this.commitUnderWay = true;
    this.root
      .batch(() => {
        for (const { key, next } of batch) {
          const keyBytes = Buffer.from(key, 'utf8');
          if (next === undefined) settled(live.remove(keyBytes));
          else settled(live.put(keyBytes, encodeValue(next)));
        }
        settled(this.meta.put(this.name, meta));
      })
      .then(
        () => {
          this.commitUnderWay = false;
          if (generation !== this.generation) return;
          this.released = meta;
          for (const { key, zxid } of batch) {
            if (this.committing.get(key)?.zxid === zxid) this.committing.delete(key);
          }
          this.committedWaiters.splice(0).forEach((waiter) => waiter());
          this.commitNext();
        },
        (error: unknown) =>
          void commitFailureCause(error).then((cause) => {
            if (generation !== this.generation) return;
            this.commitUnderWay = false;
            this.fail(cause);
          }),
      );
  }

  /**
   * Why lmdb must not take a transaction of `entries` now: it would come near filling the disk.
   * lmdb-js does not survive a write that fails with ENOSPC (see GrowthReserve): where no blocks
   * can be held, this is the only check, and a snapshot piece cannot wait for the reserve (`add`
   * is synchronous). Each changed key may copy a few B-tree pages, and a margin covers lmdb's
   * own bookkeeping. The blocks the reserve holds are room (statfs counts them as used: without
   * them, released 200 KB writes failed the store with room to spare on a fast machine).
   */
  private lacksRoomFor(
    entries: readonly {
      readonly key: string;
      readonly next?: Versioned | undefined;
      readonly value?: Uint8Array;
    }[],
  ): string | null {
    let need = STATE_WRITE_MARGIN_BYTES;
    for (const entry of entries) {
      const value = entry.value ?? entry.next?.value;
      need += 2 * (entry.key.length * 3 + (value?.byteLength ?? 0)) + changeGrowth(0);
    }
    const free = this.growth.room(this.freeBytes());
    return free >= need
      ? null
      : `no room for the applied state: ${free} bytes of room, ${need} needed`;
  }

  private readonly committedWaiters: (() => void)[] = [];

  /** Resolves once lmdb holds the state through `zxid`. */
  private whenCommitted(zxid: Zxid): Promise<void> {
    if (this.released.applied >= zxid) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.released.applied >= zxid) resolve();
        else this.committedWaiters.push(check);
      };
      check();
    });
  }

  private switchTo(installed: GroupMeta): void {
    const old = this.live;
    this.installFinished = false;
    this.installedMeta = null;
    this.generation++;
    this.commitUnderWay = false;
    this.slot = installed.slot;
    this.live = this.slots[installed.slot];
    settled(old.clearAsync());
    this.unreleased = [];
    this.unreleasedKeys.clear();
    this.committing.clear();
    this.queued = [];
    this.queuedBytes = 0;
    this.released = installed;
    this.queuedMeta = installed;
    this.lastApplied = installed.applied;
    this.durable = installed.applied;
    this.resetApplied(installed.applied);
    this.setCounts(installed.bytes, installed.size);
  }

  /** `fail` with why lmdb refused a write (commitFailureCause), not lmdb's bare "Commit failed". */
  private failWithCause(error: unknown): void {
    void commitFailureCause(error).then((cause) => this.fail(cause));
  }

  /**
   * lmdb refused a commit (a full disk): it still holds the state of one zxid, and nothing more
   * is written, which would leave a hole. The replica reloads (`failure`), which reverts memory
   * to what lmdb holds; the log replays the rest once writes go through again.
   */
  private fail(error: unknown): void {
    this.failureValue ??= error instanceof Error ? error : new Error(String(error));
    this.onFailure?.();
    if (this.finishing !== null) this.finishing.failed = true;
    this.finishing = null;
  }
}

/**
 * How far a transaction of `entries` may grow lmdb's file: every page a change may copy, and
 * the value's own pages, plus a margin for lmdb's freelist and meta.
 */
function growthBound(entries: readonly { readonly next: Versioned | undefined }[]): number {
  let bytes = GROWTH_MARGIN_BYTES;
  for (const { next } of entries) bytes += changeGrowth(next?.value.byteLength ?? 0);
  return bytes;
}

/**
 * Each write of a transaction has its own promise, rejected with the transaction when it fails:
 * the transaction's own promise reports that (`fail`), so these must not go unhandled, which
 * would end the process; nor may the cause that the rejection carries (quietCommitFailure).
 */
function settled(write: PromiseLike<unknown>): void {
  void write.then(undefined, quietCommitFailure);
}

/** [version: f64 big-endian][value bytes]: zxids are integers below 2^53, exact in a double. */
function encodeValue({ version, value }: Versioned): Buffer {
  const stored = Buffer.allocUnsafe(VERSION_BYTES + value.byteLength);
  stored.writeDoubleBE(version, 0);
  stored.set(value, VERSION_BYTES);
  return stored;
}

function decodeValue(stored: Buffer): Versioned {
  return { version: stored.readDoubleBE(0), value: stored.subarray(VERSION_BYTES) };
}
