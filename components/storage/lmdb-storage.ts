import { performance } from 'node:perf_hooks';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ComponentDefinition, type ComponentContext } from '../kernel/index.js';
import {
  asError,
  commitFailureCause,
  handleLmdbCommitFailures,
  isLmdbNoSpace,
  quietCommitFailure,
  stopNodeOnFailure,
  type DiskStoreInit,
  type DiskStoreStats,
} from './disk-store.js';
import {
  changeGrowth,
  GROWTH_MARGIN_BYTES,
  GrowthGate,
  reserveAhead,
  type GrowthReserve,
} from './growth-reserve.js';
import {
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_SPACE_CHECK_MS,
  SpaceMonitor,
  statfsFreeBytes,
} from './space-monitor.js';
import { recoverImage } from './recover-image.js';
import { sealEntry, sealSnapshot } from './stored-record.js';
import {
  STORAGE_WRITE_KINDS,
  Storage,
  type StorageWrite,
  type StoredImage,
} from './storage-port.js';

export interface LmdbStorageInit extends DiskStoreInit {
  /** Blocks held past lmdb's data file; by default fallocate's (see GrowthReserve). */
  readonly reserve?: GrowthReserve;
}

/** One lmdb transaction of ours: the writes one callback applied, durable together. */
interface Batch {
  lastSeq: number | null;
  durable: boolean;
  writes?: number;
}

type Meta = 'initialized' | 'voter' | 'acceptedEpoch' | 'currentEpoch' | 'batches';
const SNAPSHOT_KEY = 0;

/**
 * The Storage port on lmdb. Writes of one event-loop turn go into one lmdb transaction (lmdb-js
 * closes its write batch at the next `setImmediate`), so one fsync covers them all: group
 * commit. lmdb commits are atomic and ordered, so after any crash the disk holds a prefix of
 * the transactions, each whole; Durable is emitted strictly in transaction order, so the
 * indications are prefix-closed too. A batch that fails is aborted whole by lmdb; the store
 * reports WriteFailed and takes writes again after the next Load (storage-port.ts). A batch
 * starts only once disk blocks held past lmdb's file cover what it may grow the file by
 * (GrowthReserve: lmdb-js aborts the process on a large write that fails with ENOSPC); a disk
 * that refuses them fails the batch before lmdb sees it.
 */
export class LmdbStorage extends ComponentDefinition {
  readonly storage = this.provides(Storage);
  readonly stats: DiskStoreStats = { writes: 0, commits: 0, failures: 0 };
  private readonly root: RootDatabase;
  private readonly logDb: Database<Uint8Array, number>;
  private readonly metaDb: Database<number | boolean, Meta>;
  private readonly snapshotDb: Database<Uint8Array, number>;
  private readonly onFailure: (error: Error) => void;
  /** Writes waiting for the transaction callback already queued with lmdb. */
  private pending: StorageWrite[] = [];
  private batchOpen = false;
  /** A batch is committed or committing but not yet on disk. */
  private flushing = false;
  /** Transactions not yet durable, oldest first. */
  private readonly inFlight: Batch[] = [];
  private broken = false;
  /** A batch failed: writes are dropped until the next Load. */
  private failed = false;
  private lastRequestedSeq = 0;
  private readonly space: SpaceMonitor;
  /** Bytes of the latest snapshot: the next one needs that much room again. */
  private snapshotBytes = 0;
  /** Our transactions committed so far, also kept on disk to prove none went missing. */
  private batches: number;
  private closed: Promise<void> = Promise.resolve();
  private readonly reserve: GrowthReserve;
  private readonly growth: GrowthGate;
  private readonly path: string;
  private readonly freeBytes: (path: string) => Promise<number>;

  private readonly onFlushed: ((durationMs: number, writes: number) => void) | undefined;

  constructor(context: ComponentContext, init: LmdbStorageInit) {
    super(context);
    this.onFlushed = init.onFlushed;
    this.onFailure = init.onFailure ?? stopNodeOnFailure(this.log);
    // overlappingSync (lmdb-js' default off Windows) resolves a commit before its fsync; we
    // wait for `flushed` instead, which lets the next transaction commit during the fsync.
    this.root = open({ path: init.path, maxDbs: 4 });
    // Or a commit lmdb refuses ends the process before failBatch hears of it.
    handleLmdbCommitFailures(this.root);
    this.path = init.path;
    this.freeBytes = init.freeBytes ?? statfsFreeBytes;
    this.logDb = this.root.openDB<Uint8Array, number>('log', { encoding: 'binary' });
    this.metaDb = this.root.openDB<number | boolean, Meta>('meta', { encoding: 'msgpack' });
    this.snapshotDb = this.root.openDB<Uint8Array, number>('snapshot', { encoding: 'binary' });
    // Written once, synchronously, so a crash can never turn an old disk into a "new" one.
    this.root.transactionSync(() => {
      if (this.metaDb.get('initialized') !== undefined) return;
      this.metaDb.putSync('initialized', true);
      this.metaDb.putSync('voter', init.initialize);
    });
    this.batches = this.number('batches');
    this.reserve =
      init.reserve ??
      reserveAhead(init.path, (reason) =>
        this.log.warn(
          { path: init.path, reason },
          'cannot hold disk blocks ahead of the log: a disk that fills during a commit may abort the node',
        ),
      );
    this.growth = new GrowthGate(this.reserve);
    const minFreeBytes = init.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
    this.space = new SpaceMonitor({
      path: init.path,
      minFreeBytes,
      intervalMs: init.spaceCheckMs ?? DEFAULT_SPACE_CHECK_MS,
      freeBytes: this.freeBytes,
      extraBytes: () => this.snapshotBytes,
      report: (low, roomy, freeBytes) => {
        if (this.lifecycle === 'destroyed') return;
        if (low) this.log.warn({ freeBytes, minFreeBytes }, 'disk space below the reserve');
        else this.log.info({ freeBytes, minFreeBytes, roomy }, 'disk space above the reserve');
        this.trigger({ kind: 'SpaceLow', low, roomy, freeBytes }, this.storage);
      },
      warn: (error) => this.log.warn({ err: error }, 'cannot check free disk space'),
    });

    this.subscribe(this.storage, 'Load', (_request, origin) => {
      if (this.failed && !this.flushing) {
        // After a failed batch: what lmdb holds is what committed; count from there.
        this.failed = false;
        this.batches = this.number('batches');
      }
      this.answer(origin, { kind: 'Loaded', image: this.load() });
    });
    for (const kind of STORAGE_WRITE_KINDS)
      this.subscribe(this.storage, kind, (write) => this.request(write));
  }

  /** Resolves once the environment is closed after a kill (to reopen it in the same process). */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  protected override onStart(): void {
    this.space.start();
  }

  protected override onKill(): void {
    this.space.stop();
    this.reserve.close();
    this.pending = [];
    // lmdb-js resolves a commit's flush only once the commit succeeds, and close() waits for the
    // last flush: after a refused commit (a full disk) it waited for ever, and the node's stop
    // with it. An empty transaction writes nothing, so it commits even then, after any under
    // way, and its flush is the last.
    void this.root.transaction(() => undefined).then(undefined, quietCommitFailure);
    this.closed = this.root.close().catch((error: unknown) => {
      this.log.warn({ err: error }, 'closing lmdb failed');
    });
  }

  /** Reads committed state: meant for start-up, before this node has written anything. */
  private load(): StoredImage {
    const log: Uint8Array[] = [];
    // Copied: lmdb may hand out views of memory it reuses.
    for (const { value } of this.logDb.getRange()) log.push(Uint8Array.from(value));
    const snapshot = this.snapshotDb.get(SNAPSHOT_KEY);
    this.snapshotBytes = snapshot?.length ?? 0;
    // lmdb writes records atomically, so a short record is damage, never a torn write.
    const image = recoverImage(
      {
        acceptedEpoch: this.number('acceptedEpoch'),
        currentEpoch: this.number('currentEpoch'),
        voter: this.metaDb.get('voter') === true,
        snapshot: snapshot === undefined ? null : Uint8Array.from(snapshot),
        log,
      },
      false,
    );
    if (image.damage === 'corrupt') {
      // Discarded on disk too, before anyone hears of it: later appends must not land next
      // to the damaged records, and the node stays a non-voter until it syncs.
      this.root.transactionSync(() => {
        this.logDb.clearSync();
        this.snapshotDb.removeSync(SNAPSHOT_KEY);
        this.metaDb.putSync('voter', false);
      });
    }
    return image;
  }

  private number(key: Meta): number {
    const value = this.metaDb.get(key);
    return typeof value === 'number' ? value : 0;
  }

  private request(write: StorageWrite): void {
    if (this.broken || this.failed) return;
    this.lastRequestedSeq = write.seq;
    this.pending.push(write);
    this.maybeStartBatch();
  }

  /**
   * Group commit: one batch at a time is committed and flushed; writes requested meanwhile
   * wait and all go into the next batch, so under load each fsync carries many writes.
   */
  private maybeStartBatch(): void {
    if (this.batchOpen || this.flushing || this.pending.length === 0) return;
    if (this.broken || this.failed) return;
    const growth = this.pending.reduce(
      (sum, write) => sum + writeGrowth(write),
      GROWTH_MARGIN_BYTES,
    );
    const admitted = this.growth.admit(growth, (held) => {
      if (this.lifecycle === 'destroyed' || this.broken || this.failed) return;
      if (held) return this.maybeStartBatch();
      const reason = `no room for the log: the disk refused ${growth} bytes`;
      this.log.error(
        { growth, noSpace: true },
        'storage write failed: the disk has no room for the batch',
      );
      this.refuse(reason, true);
    });
    if (!admitted) return;
    this.batchOpen = true;
    this.flushing = true;
    const batch: Batch = { lastSeq: null, durable: false };
    const started = performance.now();
    this.inFlight.push(batch);
    // A child transaction aborts as a whole if a write throws: nothing of a failed batch lands.
    const committed = this.root.childTransaction(() => this.applyPending(batch));
    // `flushed` picks the flush of the batch being built when `then` is called: call it now.
    const flushed = new Promise<unknown>((resolve, reject) => {
      this.root.flushed.then(resolve, reject);
    });
    flushed.catch(() => {}); // a failure is reported through `whole`
    let commitFailed = false;
    const whole = committed.then(
      () => flushed,
      (error: unknown) => {
        commitFailed = true;
        throw error;
      },
    );
    whole.then(
      () => {
        batch.durable = true;
        this.flushing = false;
        this.onFlushed?.(performance.now() - started, batch.writes ?? 0);
        this.emitDurable();
        if (this.lifecycle !== 'destroyed') this.maybeStartBatch();
      },
      (error: unknown) => {
        // Committed but not flushed: lmdb cannot take it back, and its pages may never reach
        // the disk (a failed fsync may drop them): this store cannot vouch for its state.
        if (commitFailed) void this.commitRefused(batch, error, growth);
        else this.stopWriting(error);
      },
    );
  }

  /** Runs inside the write transaction, where reads see the writes made before them. */
  private applyPending(batch: Batch): void {
    this.batchOpen = false;
    const writes = this.takeCovered();
    if (this.broken || this.failed || this.lifecycle === 'destroyed') return;
    // If an earlier transaction failed to commit, lmdb may still run this one: it must not
    // land on disk without the writes before it.
    if (this.number('batches') !== this.batches) {
      throw new Error(`write transaction ${this.batches} never committed`);
    }
    for (const write of writes) {
      this.apply(write);
      batch.lastSeq = write.seq;
    }
    batch.writes = writes.length;
    this.metaDb.putSync('batches', ++this.batches);
    this.stats.writes += writes.length;
  }

  /**
   * The pending writes, oldest first, that the disk reserve covers now: those it was checked for
   * when the batch started, and those requested since if they fit too (the rest wait for the
   * next batch, which checks them).
   */
  private takeCovered(): StorageWrite[] {
    const room = this.reserve.available();
    let growth = GROWTH_MARGIN_BYTES;
    let taken = 0;
    while (taken < this.pending.length) {
      growth += writeGrowth(this.pending[taken]!);
      if (taken > 0 && growth > room) break;
      taken++;
    }
    return this.pending.splice(0, taken);
  }

  private apply(write: StorageWrite): void {
    switch (write.kind) {
      case 'Append': {
        let last = this.lastZxid();
        for (const entry of write.entries) {
          if (entry.zxid <= last) {
            throw new Error(`append out of order: ${entry.zxid} after ${last}`);
          }
          this.logDb.putSync(entry.zxid, sealEntry(entry));
          this.space.noteWritten(entry.payload.length);
          last = entry.zxid;
        }
        return;
      }
      case 'Truncate': {
        const doomed: number[] = [];
        for (const zxid of this.logDb.getKeys({ reverse: true })) {
          if (zxid <= write.afterZxid) break;
          doomed.push(zxid);
        }
        for (const zxid of doomed) this.logDb.removeSync(zxid);
        return;
      }
      case 'SetAcceptedEpoch':
        this.metaDb.putSync('acceptedEpoch', write.epoch);
        return;
      case 'SetCurrentEpoch':
        this.metaDb.putSync('currentEpoch', write.epoch);
        this.metaDb.putSync('voter', true);
        return;
      case 'SaveSnapshot':
        this.snapshotDb.putSync(SNAPSHOT_KEY, sealSnapshot(write.snapshot));
        this.snapshotBytes = write.snapshot.state.length;
        return;
      case 'InstallSnapshot':
        this.snapshotDb.putSync(SNAPSHOT_KEY, sealSnapshot(write.snapshot));
        this.snapshotBytes = write.snapshot.state.length;
        this.logDb.clearSync();
        return;
      case 'Compact': {
        const doomed: number[] = [];
        for (const zxid of this.logDb.getKeys()) {
          if (zxid > write.throughZxid) break;
          doomed.push(zxid);
        }
        for (const zxid of doomed) this.logDb.removeSync(zxid);
        return;
      }
    }
  }

  private lastZxid(): number {
    for (const zxid of this.logDb.getKeys({ reverse: true, limit: 1 })) return zxid;
    return -1;
  }

  /** Flushes may be reported out of order; Durable never is. */
  private emitDurable(): void {
    let seq: number | null = null;
    while (this.inFlight[0]?.durable === true) {
      const batch = this.inFlight.shift()!;
      if (batch.lastSeq !== null) seq = batch.lastSeq;
      this.stats.commits++;
    }
    if (seq === null || this.broken || this.lifecycle === 'destroyed') return;
    this.trigger({ kind: 'Durable', seq }, this.storage);
  }

  /**
   * lmdb refused the batch's commit: failed with lmdb's cause, which says whether the disk is
   * full (a batch may grow the file by `growth`). No batch starts meanwhile (`flushing`).
   */
  private async commitRefused(batch: Batch, error: unknown, growth: number): Promise<void> {
    const cause = await commitFailureCause(error);
    const free = await this.freeBytes(this.path).catch(() => Infinity);
    this.failBatch(batch, cause, isLmdbNoSpace(cause, free, growth));
  }

  /**
   * A batch failed to commit: lmdb aborted it whole, so nothing of it is reported durable; the
   * writes behind it are dropped until the next Load. One batch is in flight at a time, so this
   * one is the only one not durable.
   */
  private failBatch(batch: Batch, error: Error, noSpace: boolean): void {
    if (this.broken || this.lifecycle === 'destroyed') return;
    this.flushing = false;
    this.inFlight.splice(this.inFlight.indexOf(batch), 1);
    this.log.error({ err: error, noSpace }, 'storage write failed: batch aborted');
    this.refuse(error.message, noSpace);
  }

  /** Drops every write not yet durable and reports them failed (WriteFailed), until a Load. */
  private refuse(reason: string, noSpace: boolean): void {
    this.failed = true;
    this.pending = [];
    this.stats.failures++;
    const seq = this.lastRequestedSeq; // the writes behind it are dropped with it
    this.trigger({ kind: 'WriteFailed', seq, reason, noSpace }, this.storage);
    this.space.check();
  }

  private stopWriting(error: unknown): void {
    if (this.broken || this.lifecycle === 'destroyed') return;
    this.broken = true;
    this.pending = [];
    this.onFailure(asError(error));
  }
}

/** How far one write may grow lmdb's file (see GrowthReserve). */
function writeGrowth(write: StorageWrite): number {
  switch (write.kind) {
    case 'Append':
      return write.entries.reduce((sum, { payload }) => sum + changeGrowth(payload.length), 0);
    case 'SaveSnapshot':
    case 'InstallSnapshot':
      return changeGrowth(write.snapshot.state.length);
    default:
      return changeGrowth(0);
  }
}
