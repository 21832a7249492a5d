import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-file.js';
import { ComponentDefinition, type ComponentContext, type ReplyTo } from '../kernel/index.js';
import {
  asError,
  isNoSpace,
  stopNodeOnFailure,
  type DiskStoreInit,
  type DiskStoreStats,
} from './disk-store.js';
import {
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_SPACE_CHECK_MS,
  SpaceMonitor,
  statfsFreeBytes,
} from './space-monitor.js';
import {
  installFile,
  replaceFile,
  replaceFileSync,
  stageFile,
  syncDirectory,
  syncDirectorySync,
} from './atomic-file.js';
import {
  EPOCHS_FILE,
  SNAPSHOT_FILE,
  LOG_WRITE_BYTES,
  scanWal,
  scanWalInSlices,
  sealEpochs,
  sealWalCompact,
  sealWalEntry,
  sealWalSegmentHeader,
  sealWalSnapshot,
  sealWalTruncate,
  segmentFile,
  writeNewLogId,
  type Epochs,
  type SegmentState,
  type WalScan,
} from './wal-files.js';
import {
  STORAGE_WRITE_KINDS,
  Storage,
  type StorageIndication,
  type StorageWrite,
  type StoredImage,
} from './storage-port.js';

/** The file operations a batch makes, where a test may inject a failure. */
export type WalOperation =
  'preallocate' | 'log' | 'zero-failed' | 'epochs' | 'stage' | 'snapshot' | 'segment';

export interface WalStorageInit extends DiskStoreInit {
  /** A segment is closed and a new one started once it holds this many bytes. */
  readonly segmentBytes?: number;
  /** Called before each file operation of a batch; a throw fails it as the disk would (tests). */
  readonly beforeFileOperation?: (operation: WalOperation) => void;
}

/**
 * Compaction deletes whole segments only and never the one appended to, and start-up reads every
 * live segment: a segment this size keeps the log a restart replays near what the checkpoints
 * retain (a few MiB at 100-byte values), where 64 MiB (etcd's size) made it read 58 MiB.
 */
export const DEFAULT_SEGMENT_BYTES = 16 * 2 ** 20;
/** Start-up replays the log in slices of about this long, the event loop free in between. */
const RECOVERY_SLICE_MS = 5;
const PREALLOCATE_BYTES = 2 ** 20;

/** What recovery found and made the directory match. */
interface Recovered {
  readonly epochs: Epochs;
  readonly logId: string;
  readonly base: number;
  readonly segments: readonly SegmentState[];
  readonly image: StoredImage;
}

/** The reserve a WAL store keeps by default: 64 MiB, or two segments if that is more. */
export function defaultMinFreeBytes(segmentBytes = DEFAULT_SEGMENT_BYTES): number {
  return Math.max(DEFAULT_MIN_FREE_BYTES, 2 * segmentBytes);
}

/**
 * The Storage port on an append-only log, as ZooKeeper's txn log and etcd's WAL keep theirs:
 * each batch of writes is one `write` at the end of the current segment (one per
 * LOG_WRITE_BYTES of records, for a big batch), which is opened O_DSYNC so the write returns
 * once durable: a few hundred microseconds where a B-tree commit costs milliseconds. One batch
 * is on its way to disk at a time; writes requested meanwhile all go into the next (group
 * commit).
 * Epochs and snapshots are small files replaced atomically; a batch writes its log records
 * before any such file, so what a crash leaves is always a prefix of the requested writes.
 * A batch that fails (a full disk, an I/O error) is rolled back by the recovery a restart
 * would run, and reported (WriteFailed); the store then waits for a Load (storage-port.ts).
 */
export class WalStorage extends ComponentDefinition {
  readonly storage = this.provides(Storage);
  readonly stats: DiskStoreStats = { writes: 0, commits: 0, failures: 0 };
  private readonly directory: string;
  private readonly segmentBytes: number;
  private readonly onFailure: (error: Error) => void;
  private readonly onFlushed: ((durationMs: number, writes: number) => void) | undefined;
  private readonly beforeFileOperation: (operation: WalOperation) => void;
  private readonly space: SpaceMonitor;
  private epochs: Epochs;
  /** The base in force (see wal-files.ts); snapshots are written with it. */
  private base: number;
  /** Live segments, oldest first; the last is the one appended to. */
  private segments: { n: number; maxZxid: number }[];
  private active: FileHandle | null = null;
  /** Bytes of records in the current segment: the next write goes here. */
  private activeBytes: number;
  /** Bytes of the current segment's file, zeros beyond `activeBytes`. */
  private allocated: number;
  /** Highest zxid in the log, to refuse an append out of order before it reaches the disk. */
  private lastZxid: number;
  /** This store's id and the log's last zxid when the current segment began: its header. */
  private logId = '';
  private segmentPreviousZxid = -1;
  private pending: StorageWrite[] = [];
  /** What start-up read, for the first Load if nothing was written before it. */
  private recoveredImage: StoredImage | null;
  /**
   * Snapshot files being written and fsynced while the writes before them go on: at its turn a
   * SaveSnapshot only renames its file into place, so the log does not wait for the copy.
   */
  private readonly staged = new Map<
    number,
    { readonly base: number; readonly file: Promise<string> }
  >();
  private scheduled = false;
  /** A batch on its way to disk, or recovery (start-up's or a rollback's) under way. */
  private flushing: Promise<void> | null = null;
  /** Start-up's scan of the log is under way: Loads and writes wait for it. */
  private recovering = false;
  /** Could not roll back: takes nothing any more (onFailure was told). */
  private broken = false;
  /** A failed log write could not be zeroed: its bytes may read back as records (writeAtEnd). */
  private diskUntrusted = false;
  /** A batch failed and was rolled back (or is being rolled back): writes wait for a Load. */
  private failed = false;
  /** Loads asked for while a rollback runs: answered once it is done. */
  private loadsWaiting: ReplyTo<StorageIndication>[] = [];
  /** Bytes of the latest snapshot: the next one needs that much room again. */
  private snapshotBytes = 0;
  private closed: Promise<void> = Promise.resolve();
  /** Deletions of segments behind the base or a compaction, one after another (retireSegments). */
  private deleting: Promise<void> = Promise.resolve();
  private deletionsUnderWay = 0;
  /** A deletion failed: later ones would leave a gap in the log, so none run until a restart. */
  private keepSegments = false;

  constructor(context: ComponentContext, init: WalStorageInit) {
    super(context);
    this.directory = init.path;
    this.segmentBytes = init.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.onFlushed = init.onFlushed;
    this.onFailure = init.onFailure ?? stopNodeOnFailure(this.log);
    this.beforeFileOperation = init.beforeFileOperation ?? (() => {});
    // Written once, before anything else, so a crash can never turn an old store into a new one.
    if (!existsSync(join(this.directory, EPOCHS_FILE))) {
      mkdirSync(this.directory, { recursive: true, mode: PRIVATE_DIR_MODE });
      // The directory's own name, durable before anything in it counts.
      syncDirectorySync(dirname(this.directory));
      writeNewLogId(this.directory);
      const fresh = { acceptedEpoch: 0, currentEpoch: 0, voter: init.initialize, base: 0 };
      replaceFileSync(join(this.directory, EPOCHS_FILE), sealEpochs(fresh));
    }
    // Assigned by adopt(), which the rollback after a failed batch runs again.
    this.epochs = { acceptedEpoch: 0, currentEpoch: 0, voter: false, base: 0 };
    this.base = 0;
    this.segments = [];
    this.activeBytes = 0;
    this.allocated = 0;
    this.lastZxid = -1;
    this.recoveredImage = null;
    // Writes and Loads wait for recovery as they wait for a batch on its way to disk.
    this.recovering = true;
    this.flushing = this.recover().then(
      (recovered) => {
        this.recovering = false;
        this.flushing = null;
        if (this.lifecycle === 'destroyed') return;
        this.adopt(recovered);
        this.answerWaitingLoads();
        this.schedule();
      },
      (error: unknown) => {
        this.recovering = false;
        this.flushing = null;
        this.stopWriting(error);
      },
    );
    const minFreeBytes = init.minFreeBytes ?? defaultMinFreeBytes(this.segmentBytes);
    this.space = new SpaceMonitor({
      path: this.directory,
      minFreeBytes,
      intervalMs: init.spaceCheckMs ?? DEFAULT_SPACE_CHECK_MS,
      freeBytes: init.freeBytes ?? statfsFreeBytes,
      extraBytes: () => this.snapshotBytes,
      report: (low, roomy, freeBytes) => {
        if (this.lifecycle === 'destroyed') return;
        const fields = { freeBytes, minFreeBytes, roomy, snapshotBytes: this.snapshotBytes };
        if (low) this.log.warn(fields, 'disk space below the reserve');
        else this.log.info(fields, 'disk space above the reserve');
        this.trigger({ kind: 'SpaceLow', low, roomy, freeBytes }, this.storage);
      },
      warn: (error) => this.log.warn({ err: error }, 'cannot check free disk space'),
    });

    this.subscribe(this.storage, 'Load', (_request, origin) => {
      if (this.rollingBack() || this.deletionsUnderWay > 0) {
        // Recovery, the rollback or a deletion is under way: a scan now would miss files.
        this.loadsWaiting.push(origin);
        return;
      }
      this.answerLoad(origin);
    });
    for (const kind of STORAGE_WRITE_KINDS) {
      this.subscribe(this.storage, kind, (write) => this.request(write));
    }
  }

  protected override onStart(): void {
    this.space.start();
  }

  /** Takes what recovery found as the store's state: where appends go on, and the image. */
  private adopt(recovered: Recovered): void {
    this.epochs = recovered.epochs;
    this.base = recovered.base;
    this.segments = recovered.segments.map(({ n, maxZxid }) => ({ n, maxZxid }));
    const last = recovered.segments.at(-1);
    this.activeBytes = last?.validBytes ?? 0;
    this.allocated = last?.fileBytes ?? 0;
    this.lastZxid = recovered.image.log.at(-1)?.zxid ?? -1;
    this.logId = recovered.logId;
    this.segmentPreviousZxid = this.lastZxid;
    if (last === undefined) this.segments.push({ n: this.base, maxZxid: -1 });
    this.snapshotBytes = recovered.image.snapshot?.state.length ?? 0;
    // Writes asked for during recovery change the disk after it: a Load then scans again.
    this.recoveredImage = this.pending.length > 0 ? null : recovered.image;
  }

  /**
   * Answers with start-up's (or the rollback's) scan, saying what recovery cut off, unless
   * writes have changed the disk since.
   */
  private answerLoad(origin: ReplyTo<StorageIndication>): void {
    this.failed = false;
    const image = this.recoveredImage ?? scanWal(this.directory).image;
    this.recoveredImage = null;
    this.answer(origin, { kind: 'Loaded', image });
  }

  private rollingBack(): boolean {
    return this.flushing !== null && (this.failed || this.recovering);
  }

  private answerWaitingLoads(): void {
    for (const origin of this.loadsWaiting.splice(0)) this.answerLoad(origin);
  }

  private get snapshotPath(): string {
    return join(this.directory, SNAPSHOT_FILE);
  }

  /** Resolves once the files are closed after a kill (to reopen the store in the same process). */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  protected override onKill(): void {
    this.space.stop();
    this.pending = [];
    const flushing = this.flushing ?? Promise.resolve();
    this.closed = flushing
      .then(() => this.active?.close())
      .then(() => this.deleting)
      .catch((error: unknown) => this.log.warn({ err: error }, 'closing the log failed'));
  }

  /**
   * Makes the directory match the image a Load will report: a torn tail is zeroed (later
   * appends must follow whole records), a damaged log is retired as a whole by moving the base
   * in the epochs file (one atomic write), after which its files are only garbage to delete.
   */
  private recover(): Promise<Recovered> {
    return scanWalInSlices(this.directory, RECOVERY_SLICE_MS).then((scan) => this.settle(scan));
  }

  /** Makes the directory match what `scan` found (see `recover`). */
  private settle(scan: WalScan): Recovered {
    let { epochs, base } = scan;
    // The segments were all retired with the damage; new ones carry a new id if it was lost.
    const logId = scan.logId ?? writeNewLogId(this.directory);
    if (scan.image.damage === 'corrupt') {
      base = Math.max(base, ...scan.retired.map((n) => n + 1));
      epochs = { ...epochs, voter: false, base };
      replaceFileSync(join(this.directory, EPOCHS_FILE), sealEpochs(epochs));
      rmSync(join(this.directory, SNAPSHOT_FILE), { force: true });
      this.log.warn(
        { directory: this.directory },
        'damaged log discarded: re-syncing as a non-voter',
      );
    }
    for (const n of scan.retired) rmSync(join(this.directory, segmentFile(n)), { force: true });
    // Files staged but never put in place (a crash between the two halves of a replacement).
    for (const name of readdirSync(this.directory)) {
      if (name.endsWith('.tmp')) rmSync(join(this.directory, name), { force: true });
    }
    const last = scan.segments.at(-1);
    if (last !== undefined && last.dirtyBytes > last.validBytes) {
      // What a torn batch left behind is zeroed: later appends shorter than it must never be
      // followed by its bytes, which a later scan could take for records.
      const file = openSync(join(this.directory, segmentFile(last.n)), 'r+');
      try {
        writeSync(
          file,
          new Uint8Array(last.dirtyBytes - last.validBytes),
          0,
          undefined,
          last.validBytes,
        );
        fdatasyncSync(file);
      } finally {
        closeSync(file);
      }
    }
    syncDirectorySync(this.directory);
    return {
      epochs,
      logId,
      base,
      segments: scan.segments,
      image: scan.image,
    };
  }

  private request(write: StorageWrite): void {
    if (this.broken || this.failed) return;
    this.recoveredImage = null;
    if (write.kind === 'SaveSnapshot') {
      const bytes = sealWalSnapshot(write.snapshot, this.base);
      const file = Promise.resolve().then(() => {
        this.beforeFileOperation('stage');
        this.space.noteWritten(bytes.length);
        return stageFile(this.snapshotPath, bytes, `${write.seq}.tmp`);
      });
      file.catch(() => {}); // awaited, and reported, at its turn
      this.staged.set(write.seq, { base: this.base, file });
    }
    this.pending.push(write);
    this.schedule();
  }

  /** Waits for the end of the turn, so every write requested in it shares the next batch. */
  private schedule(): void {
    if (this.scheduled || this.flushing !== null || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.broken || this.failed || this.lifecycle === 'destroyed') return;
      if (this.pending.length === 0) return;
      const writes = this.pending;
      this.pending = [];
      const started = performance.now();
      this.flushing = this.writeBatch(writes).then(
        () => {
          this.flushing = null;
          this.stats.writes += writes.length;
          this.stats.commits++;
          this.onFlushed?.(performance.now() - started, writes.length);
          if (this.lifecycle === 'destroyed') return;
          this.trigger({ kind: 'Durable', seq: writes.at(-1)!.seq }, this.storage);
          this.schedule();
        },
        (error: unknown) => this.rollBack(writes, asError(error)),
      );
    });
  }

  /** Writes in request order; log records are gathered and go out before any other file. */
  private async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    let records: Uint8Array[] = [];
    let recordBytes = 0;
    const writeRecords = async (): Promise<void> => {
      if (records.length === 0) return;
      const bytes = Buffer.concat(records, recordBytes);
      records = [];
      recordBytes = 0;
      await this.appendToLog(bytes);
    };
    /** Gathers a record; true once enough are gathered to write them out. */
    const gather = (record: Uint8Array): boolean => {
      records.push(record);
      recordBytes += record.length;
      return recordBytes >= LOG_WRITE_BYTES;
    };
    for (const write of writes) {
      switch (write.kind) {
        case 'Append':
          for (const entry of write.entries) {
            if (entry.zxid <= this.lastZxid) {
              throw new Error(`append out of order: ${entry.zxid} after ${this.lastZxid}`);
            }
            const full = gather(sealWalEntry(entry));
            this.lastZxid = entry.zxid;
            const segment = this.segments.at(-1)!;
            segment.maxZxid = Math.max(segment.maxZxid, entry.zxid);
            // Awaited only when a piece is full: no promise per record on the write path.
            if (full) await writeRecords();
          }
          break;
        case 'Truncate':
          if (gather(sealWalTruncate(write.afterZxid))) await writeRecords();
          this.lastZxid = Math.min(this.lastZxid, write.afterZxid);
          break;
        case 'SetAcceptedEpoch':
          await writeRecords();
          await this.writeEpochs({ ...this.epochs, acceptedEpoch: write.epoch });
          break;
        case 'SetCurrentEpoch':
          await writeRecords();
          await this.writeEpochs({ ...this.epochs, currentEpoch: write.epoch, voter: true });
          break;
        case 'SaveSnapshot': {
          await writeRecords();
          const staged = this.staged.get(write.seq)!;
          this.staged.delete(write.seq);
          let file = await staged.file;
          if (staged.base !== this.base) {
            // Staged before an InstallSnapshot ahead of it moved the base: written again.
            await rm(file, { force: true });
            file = await stageFile(this.snapshotPath, sealWalSnapshot(write.snapshot, this.base));
          }
          this.beforeFileOperation('snapshot');
          await installFile(file, this.snapshotPath);
          this.snapshotBytes = write.snapshot.state.length;
          break;
        }
        case 'InstallSnapshot': {
          await writeRecords();
          // The new base retires every segment so far, atomically with the snapshot.
          const next = this.segments.at(-1)!.n + 1;
          this.beforeFileOperation('snapshot');
          await replaceFile(
            join(this.directory, SNAPSHOT_FILE),
            sealWalSnapshot(write.snapshot, next),
          );
          this.base = next;
          this.snapshotBytes = write.snapshot.state.length;
          await this.startSegment(next);
          const retired = this.segments.splice(0, this.segments.length - 1);
          this.retireSegments(retired.map(({ n }) => n));
          this.lastZxid = -1;
          break;
        }
        case 'Compact': {
          gather(sealWalCompact(write.throughZxid));
          await writeRecords();
          // Whole segments only, oldest first, never the one being appended to.
          let covered = 0;
          while (
            covered < this.segments.length - 1 &&
            this.segments[covered]!.maxZxid <= write.throughZxid
          ) {
            covered++;
          }
          this.retireSegments(this.segments.splice(0, covered).map(({ n }) => n));
          break;
        }
      }
    }
    await writeRecords();
    if (this.activeBytes >= this.segmentBytes) await this.startSegment(this.segments.at(-1)!.n + 1);
  }

  private async appendToLog(records: Uint8Array): Promise<void> {
    const segment = this.segments.at(-1)!;
    const bytes =
      this.activeBytes > 0
        ? records
        : Buffer.concat([
            sealWalSegmentHeader({
              logId: this.logId,
              n: segment.n,
              previousZxid: this.segmentPreviousZxid,
            }),
            records,
          ]);
    this.active ??= await this.openSegment(segment.n);
    if (this.activeBytes + bytes.length > this.allocated) {
      // Zeros ahead of the records, a chunk at a time: the record writes then change no file
      // metadata, so each is a data flush without a journal commit (about 20 % faster here).
      const grow = Math.max(PREALLOCATE_BYTES, this.activeBytes + bytes.length - this.allocated);
      const zeros = new Uint8Array(grow);
      this.beforeFileOperation('preallocate');
      const grown = await this.active.write(zeros, 0, grow, this.allocated);
      if (grown.bytesWritten !== grow) throw shortWrite('preallocating the log');
      this.allocated += grow;
      this.space.noteWritten(grow);
    }
    const { bytesWritten } = await this.writeAtEnd(this.active, bytes);
    if (bytesWritten !== bytes.length) throw shortWrite('to the log');
    this.activeBytes += bytes.length;
  }

  /**
   * Writes records at the log's end. A write that fails may still be in the page cache, which
   * the rollback's scan (or a restart's) would read back as durable records, and after an EIO
   * Linux may never write those pages out (PostgreSQL's "fsyncgate"): its range is overwritten
   * with zeros, synced (O_DSYNC), so a scan finds the log's end there. The range is allocated
   * already, so the zeros need no space. If even they fail the disk is not to be trusted: the
   * rollback stops the node instead, as ZooKeeper and etcd stop on a failed log write.
   */
  private async writeAtEnd(file: FileHandle, bytes: Uint8Array) {
    const at = this.activeBytes;
    try {
      this.beforeFileOperation('log');
      return await file.write(bytes, 0, bytes.length, at);
    } catch (error) {
      // A full disk refuses the write before any of it is cached (and on a copy-on-write file
      // system would refuse the zeros too): nothing to take back, and the store rolls back.
      if (isNoSpace(error)) throw error;
      try {
        this.beforeFileOperation('zero-failed');
        const zeroed = await file.write(new Uint8Array(bytes.length), 0, bytes.length, at);
        if (zeroed.bytesWritten !== bytes.length) this.diskUntrusted = true;
      } catch {
        this.diskUntrusted = true;
      }
      throw error;
    }
  }

  /** Closes the current segment; the next append creates segment `n`. */
  private async startSegment(n: number): Promise<void> {
    await this.active?.close();
    this.active = null;
    this.activeBytes = 0;
    this.allocated = 0;
    this.segmentPreviousZxid = this.lastZxid;
    this.segments.push({ n, maxZxid: -1 });
  }

  /**
   * Opens (creating if need be) a segment for positional writes: not O_APPEND, under which
   * Linux ignores the position. The directory is synced so the file's name is durable too.
   */
  private async openSegment(n: number): Promise<FileHandle> {
    this.beforeFileOperation('segment');
    const file = await open(
      join(this.directory, segmentFile(n)),
      // O_DSYNC: a write returns once its data is durable, one trip to the thread pool instead
      // of two (write, then fdatasync).
      constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC,
      PRIVATE_FILE_MODE,
    );
    await syncDirectory(this.directory);
    return file;
  }

  /**
   * Deletes segments a compaction covered, or an installed snapshot retired, behind the log's
   * writes, not in their way: freeing eight 16 MiB segments and syncing the directory took
   * ~110 ms here, which every write queued behind them waited for. A stop before they are gone
   * leaves them to the next start: below the base it deletes them, above it replays them as log
   * the state already holds (oldest deleted first, so those left are contiguous with the live
   * ones) and a later compaction covers them again.
   */
  private retireSegments(numbers: readonly number[]): void {
    if (numbers.length === 0 || this.keepSegments) return;
    this.deletionsUnderWay++;
    this.deleting = this.deleting
      .then(() => (this.keepSegments ? undefined : this.deleteSegments(numbers)))
      .catch((error: unknown) => {
        this.keepSegments = true;
        this.log.warn(
          { err: error, segments: numbers },
          'cannot delete log segments behind a compaction: they stay until a compaction after a restart',
        );
      })
      .then(() => {
        this.deletionsUnderWay--;
        if (this.deletionsUnderWay > 0 || this.rollingBack()) return;
        if (this.lifecycle !== 'destroyed') this.answerWaitingLoads();
      })
      .catch((error: unknown) => this.stopWriting(error));
  }

  private async deleteSegments(numbers: readonly number[]): Promise<void> {
    for (const n of numbers) await rm(join(this.directory, segmentFile(n)), { force: true });
    await syncDirectory(this.directory);
  }

  private async writeEpochs(epochs: Epochs): Promise<void> {
    this.beforeFileOperation('epochs');
    await replaceFile(join(this.directory, EPOCHS_FILE), sealEpochs(epochs));
    this.epochs = epochs;
  }

  /**
   * A batch failed: nothing of it is reported durable, the writes behind it are dropped, and
   * the directory is brought back to what a restart would find (recover(): a torn tail
   * zeroed, staged files removed), which holds every durable write. Then WriteFailed, and
   * writes wait for the next Load. A store that cannot even do that stops the node.
   */
  private rollBack(writes: readonly StorageWrite[], error: Error): void {
    if (this.diskUntrusted) return this.stopWriting(error);
    // The writes behind the failed batch are dropped with it: `seq` covers them too.
    const seq = this.pending.at(-1)?.seq ?? writes.at(-1)!.seq;
    this.failed = true;
    this.pending = [];
    this.stats.failures++;
    const staged = [...this.staged.values()].map(({ file }) => file);
    this.staged.clear();
    this.flushing = (async () => {
      await Promise.allSettled(staged); // their files are removed by recover()
      const active = this.active;
      this.active = null;
      await active?.close().catch(() => {});
      await this.deleting; // the scan must not list a segment being deleted
      this.adopt(await this.recover());
    })().then(
      () => {
        this.flushing = null;
        if (this.lifecycle === 'destroyed') return;
        const noSpace = isNoSpace(error);
        this.log.error(
          { err: error, seq, noSpace },
          'storage write failed: rolled back to the last durable write',
        );
        this.trigger({ kind: 'WriteFailed', seq, reason: error.message, noSpace }, this.storage);
        this.space.check();
        this.answerWaitingLoads();
      },
      (rollbackError: unknown) => {
        this.flushing = null;
        this.stopWriting(rollbackError);
      },
    );
  }

  private stopWriting(error: unknown): void {
    if (this.broken || this.lifecycle === 'destroyed') return;
    this.broken = true;
    this.pending = [];
    this.onFailure(asError(error));
  }
}

/** A write that wrote only part of its bytes: on a regular file, the disk filled up. */
function shortWrite(what: string): Error {
  return Object.assign(new Error(`short write ${what}: the disk is full`), { code: 'ENOSPC' });
}
