import { open, type Database, type RootDatabase } from 'lmdb';
import { statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Zxid } from '../kv/zxid.js';
import { handleLmdbCommitFailures } from '../components/storage/disk-store.js';
import { reserveAhead, type GrowthReserve } from '../components/storage/growth-reserve.js';
import { CHECKPOINT_LOG_BYTES } from '../components/limits.js';
import { CheckpointCopies, type CopyObserver } from './checkpoint-copies.js';
import { appliedInCopy } from './copy-applied.js';
import {
  DEFAULT_COMMIT_PACING,
  LmdbStateStore,
  type CommitPacing,
  type GroupMeta,
} from './lmdb-state-store.js';
import {
  currentBootId,
  DATA_FILE,
  markSynced,
  prepareStateDirectory,
  type StateFiles,
  type StateRecovery,
} from './power-loss-recovery.js';

/**
 * At most this many log bytes between two checkpoints, however big the state's file: a start
 * reads the log since the last (54 MB took 1.45 s at a million keys, bench:scale 2026-12-01).
 */
const MAX_CHECKPOINT_LOG_BYTES = 2 * CHECKPOINT_LOG_BYTES;

/**
 * The node's one lmdb environment for applied state: a named database per group replica it
 * hosts (two, in fact: the live one and the one a SNAP install fills), and a `meta` database
 * with each group's applied zxid, counts and live slot, written in the transaction of the
 * applies it describes. One transaction could carry the applies of several groups.
 */
export class LmdbStateEnvironment {
  private readonly root: RootDatabase;
  private readonly meta: Database<GroupMeta, string>;
  private readonly stores = new Map<number, LmdbStateStore>();

  private readonly reserve: GrowthReserve;
  private readonly pacing: CommitPacing;
  private readonly copies: CheckpointCopies;
  private readonly log: Logger | undefined;
  private readonly fixedCheckpointLogBytes: number | null;
  /** What this start found (power-loss-recovery.ts). */
  readonly recovery: StateRecovery;
  /** lmdb syncs every commit this run: the disk refused the marker or the first copy. */
  readonly syncsCommits: boolean;
  /** Each group's applied zxid in the checkpoint copy at this start (CheckpointCopy). */
  private readonly copyApplied: ReadonlyMap<string, Zxid>;

  constructor(
    private readonly path: string,
    options: {
      readonly pacing?: CommitPacing;
      /** Blocks held past the data file; by default fallocate's (see GrowthReserve). */
      readonly reserve?: GrowthReserve;
      readonly log?: Logger;
      /** This boot's id (tests stand in for a reboot); by default the kernel's. */
      readonly bootId?: string | null;
      /** Told of each checkpoint copy (metrics). */
      readonly copies?: CopyObserver;
      /** Log bytes between two checkpoints; by default scaled to the state (checkpointLogBytes). */
      readonly checkpointLogBytes?: number;
      /** How the start replaces files; by default on the disk (tests stand in a full one). */
      readonly files?: StateFiles;
    } = {},
  ) {
    this.pacing = options.pacing ?? DEFAULT_COMMIT_PACING;
    this.log = options.log;
    this.fixedCheckpointLogBytes = options.checkpointLogBytes ?? null;
    const prepared = prepareStateDirectory(
      path,
      options.bootId === undefined ? currentBootId() : options.bootId,
      options.files,
    );
    this.recovery = prepared.recovery;
    this.syncsCommits = prepared.syncCommits !== null;
    if (prepared.syncCommits !== null) {
      options.log?.warn(
        { path, reason: prepared.syncCommits },
        'the disk refused what lets the applied state commit without fsync: every commit is synced until the next start',
      );
    }
    // Read after the copy was put back in lmdb's place or first made from lmdb's file, if so.
    this.copyApplied = appliedInCopy(path, options.log);
    if (this.recovery === 'restored' || this.recovery === 'emptied') {
      options.log?.warn(
        { path, recovery: this.recovery },
        'the applied state may have lost commits to a power loss: it restarts from its last checkpoint copy (empty before the first) and the log replays the rest',
      );
    }
    // noSync: the WAL is the durability point, and lmdb's fsync of every commit (lmdb-js'
    // overlappingSync) cost most of the disk's writes at a million keys, each commit's pages
    // its own IO; the page cache now writes a page once however often it changed. What keeps
    // the state across a power loss is the checkpoint copy (power-loss-recovery.ts), or, for a
    // run whose start the disk refused the marker or the first copy, lmdb's own fsync again.
    // How often a transaction starts is the store's to pace (`pacing`): lmdb-js'
    // own commitDelay does nothing for batch() writes, which it starts at once.
    // Synced, without lmdb-js' overlappingSync: a commit is on disk once it resolves, and a
    // refused commit leaves no flush pending for close() to wait on for ever (LmdbStorage).
    this.root = open({ path, maxDbs: 256, noSync: !this.syncsCommits, overlappingSync: false });
    // Or a commit lmdb refuses ends the process before the store hears of it.
    handleLmdbCommitFailures(this.root);
    this.meta = this.root.openDB<GroupMeta, string>('meta', { encoding: 'msgpack' });
    this.reserve =
      options.reserve ??
      reserveAhead(path, (reason) =>
        options.log?.warn(
          { path, reason },
          'cannot hold disk blocks ahead of the applied state: a disk that fills during a commit may abort the node',
        ),
      );
    this.copies = new CheckpointCopies(
      path,
      this.root,
      () => freeBytes(path),
      options.log,
      options.copies,
    );
  }

  /** Log bytes to apply between two checkpoints (checkpointLogBytesFor the file's size). */
  checkpointLogBytes(): number {
    if (this.fixedCheckpointLogBytes !== null) return this.fixedCheckpointLogBytes;
    let fileBytes = 0;
    try {
      fileBytes = statSync(join(this.path, DATA_FILE)).size;
    } catch {
      // Not written yet.
    }
    return checkpointLogBytesFor(fileBytes);
  }

  /** The state of this node's replica of `group` (one store per group per process). */
  store(group: number): LmdbStateStore {
    let store = this.stores.get(group);
    if (store === undefined) {
      const slot = (s: 0 | 1): Database<Buffer, Buffer> =>
        this.root.openDB<Buffer, Buffer>(`group-${group}.${s}`, {
          keyEncoding: 'binary',
          encoding: 'binary',
        });
      store = new LmdbStateStore(
        this.root,
        this.meta,
        `group-${group}`,
        [slot(0), slot(1)],
        () => freeBytes(this.path),
        this.reserve,
        {
          copy: () => this.copies.durable(),
          logBytes: () => this.checkpointLogBytes(),
          copyApplied: this.copyApplied.get(`group-${group}`) ?? 0,
        },
        this.pacing,
      );
      this.stores.set(group, store);
    }
    return store;
  }

  /**
   * Waits for every write to commit, syncs them (so a power loss after a clean stop loses
   * nothing: the marker goes), then closes the environment.
   */
  async close(): Promise<void> {
    await Promise.all([...this.stores.values()].map((store) => store.close()));
    await this.copies.close();
    // A commit lmdb refused was aborted whole (its store failed): what lmdb holds still syncs.
    await this.root.flushed.then(
      () => undefined,
      () => undefined,
    );
    try {
      await new Promise<void>((resolve, reject) =>
        (this.root as unknown as SyncingRoot).sync((error) =>
          error ? reject(toError(error)) : resolve(),
        ),
      );
      markSynced(this.path);
    } catch (error) {
      // The marker stays: the next start treats this stop as a crash, which loses nothing.
      this.log?.warn({ path: this.path, err: error }, 'cannot sync the applied state at close');
    }
    await this.root.close();
    this.reserve.close();
  }
}

/** lmdb-js' root has sync(callback) (a forced mdb_env_sync on its thread); its types omit it. */
interface SyncingRoot {
  sync(callback: (error: unknown) => void): void;
}

/**
 * Log bytes to apply between two checkpoints of a state whose file has `fileBytes`: each copies
 * the whole file, so the bigger the state, the rarer (every quarter of the file's size), within
 * CHECKPOINT_LOG_BYTES and twice it (the log a start reads and a power loss replays).
 */
export function checkpointLogBytesFor(fileBytes: number): number {
  return Math.min(MAX_CHECKPOINT_LOG_BYTES, Math.max(CHECKPOINT_LOG_BYTES, fileBytes / 4));
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return Number(stats.bavail) * Number(stats.bsize);
}
