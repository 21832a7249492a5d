import type { RootDatabase } from 'lmdb';
import { link, mkdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { installFile, syncFile } from '../components/storage/atomic-file.js';
import {
  CHECKPOINT_FILE,
  COPYING_DIRECTORY,
  DATA_FILE,
  RETIRED_FILE,
} from './power-loss-recovery.js';

/** Free space a copy leaves beside itself, for lmdb's commits and the log meanwhile. */
const COPY_MARGIN_BYTES = 8 * 2 ** 20;
/** A copy the disk refused is tried again after this, doubling up to the maximum. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/**
 * The copy a new one replaces is kept under RETIRED_FILE so that the rename does not free its
 * blocks at once: ext4 frees a file's extents in the unlink (or the rename over it), and a
 * gigabyte of them held the journal, and every O_DSYNC log write behind it, for 0.5-0.7 s here.
 * It is shortened a step at a time instead (RocksDB's DeleteScheduler does the same for big
 * files); a start removes one a stop left behind.
 */
const RETIRE_STEP_BYTES = 16 * 2 ** 20;
const RETIRE_PAUSE_MS = 10;

/** Told of each copy (the node's metrics). */
export interface CopyObserver {
  copied(bytes: number, durationMs: number): void;
  /** A copy failed (no room, an I/O error): it is tried again. */
  failed(): void;
}

/**
 * The checkpoint copies of one lmdb environment (power-loss-recovery.ts says why they exist):
 * a compacting mdb_env_copy on lmdb's own thread (a read transaction: commits go on meanwhile),
 * fsynced, then renamed over the last copy, which is then retired a step at a time. Requests
 * that arrive while a copy runs share the next one, so the stores of several groups cost one
 * copy per round.
 *
 * Compacting, because of how each copy writes: the plain copy hands the kernel the whole file
 * as one O_DIRECT write (mdb_env_copyfd0, up to 1 GiB a call), which queues in the disk ahead
 * of the log's O_DSYNC writes: with a 765 MiB state an O_DSYNC write of 4 KB waited 1.0-1.3 s
 * behind it, and at 5M keys the group's writes fell to 136-371/s during each copy. The
 * compacting copy (mdb_env_copyfd1) writes 1 MiB at a time from two buffers, so log writes
 * slip in between (p50 5-8 ms, p99 10-22 ms during the same copy), and it leaves out free pages
 * (388 MiB against 765 there) in about the same time.
 */
export class CheckpointCopies {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private wakeRetry: (() => void) | null = null;

  constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    /** Free bytes where lmdb writes (statfs). */
    private readonly freeBytes: () => number,
    private readonly log?: Logger,
    private readonly observer?: CopyObserver,
  ) {}

  /**
   * Resolves true once a copy that started after this call is durable, trying again while the
   * disk has no room for one; false if the environment closes first.
   */
  async durable(): Promise<boolean> {
    let waitMs = RETRY_FIRST_MS;
    for (;;) {
      if (this.closed) return false;
      try {
        await this.request();
        return true;
      } catch (error) {
        if (this.closed) return false;
        this.observer?.failed();
        this.log?.warn(
          { path: this.path, err: error, retryInMs: waitMs },
          'cannot copy the applied state for a checkpoint: the log is not compacted until one is made',
        );
        await this.pause(waitMs);
        waitMs = Math.min(2 * waitMs, RETRY_MAX_MS);
      }
    }
  }

  /** Stops retrying and waits for a copy under way: lmdb must not close beneath it. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    await Promise.allSettled([this.running, this.next]);
  }

  /** Resolves once a copy that started after this call is durable. */
  private request(): Promise<void> {
    if (this.running === null) return this.start();
    this.next ??= this.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.next = null;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run = this.copy().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async copy(): Promise<void> {
    const started = performance.now();
    const checkpoint = join(this.path, CHECKPOINT_FILE);
    const retired = join(this.path, RETIRED_FILE);
    // Left by a failed retirement; before the room is counted, which it takes.
    await this.retire(retired);
    if (this.closed) throw new Error('the environment closes: no copy');
    const dataBytes = (await stat(join(this.path, DATA_FILE))).size;
    const need = dataBytes + COPY_MARGIN_BYTES;
    const free = this.freeBytes();
    if (free < need) {
      throw new Error(
        `no room for a copy of the applied state: ${free} bytes free, ${need} needed`,
      );
    }
    const directory = join(this.path, COPYING_DIRECTORY);
    await rm(directory, { recursive: true, force: true });
    await mkdir(directory);
    let keptAside: boolean;
    try {
      await this.backUp(directory);
      const copied = join(directory, DATA_FILE);
      await syncFile(copied);
      keptAside = await keepAside(checkpoint, retired);
      await installFile(copied, checkpoint);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    const durationMs = performance.now() - started;
    this.observer?.copied(dataBytes, durationMs);
    this.log?.debug(
      { bytes: dataBytes, ms: Math.round(durationMs) },
      'applied state copied for a checkpoint',
    );
    if (keptAside) await this.retire(retired);
  }

  /**
   * The compacting copy (see the class comment), or the plain one where it fails: lmdb refuses
   * a compacting copy of a tree it finds inconsistent (MDB_INCOMPATIBLE), and a checkpoint that
   * never comes would stop the log's compaction for good.
   */
  private async backUp(directory: string): Promise<void> {
    try {
      await this.root.backup(directory, true);
    } catch (error) {
      this.log?.warn(
        { path: this.path, err: error },
        'cannot make a compacting copy of the applied state: copying the whole file instead',
      );
      await rm(join(directory, DATA_FILE), { force: true });
      await this.root.backup(directory, false);
    }
  }

  /**
   * Shortens the retired copy RETIRE_STEP_BYTES at a time, then unlinks it; at a close, unlinks
   * what is left at once. A failure is logged and left to the next copy or start: the copy in
   * place is whole either way.
   */
  private async retire(path: string): Promise<void> {
    try {
      const stats = await stat(path).catch(() => null);
      if (stats === null) return;
      // Still another name of the installed copy (a stop between the link and the rename):
      // only the name goes, the blocks are the copy's.
      let bytes = stats.nlink > 1 ? 0 : stats.size;
      while (bytes > 0 && !this.closed) {
        bytes = Math.max(0, bytes - RETIRE_STEP_BYTES);
        await truncate(path, bytes);
        await this.pause(RETIRE_PAUSE_MS);
      }
      await rm(path, { force: true });
    } catch (error) {
      this.log?.warn({ path, err: error }, 'cannot free the checkpoint copy replaced');
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeRetry = resolve;
      this.retryTimer = setTimeout(resolve, ms);
      this.retryTimer.unref();
    });
  }
}

/**
 * Links the current copy at `retired`, so that the copy installed over it does not free its
 * blocks in the rename; false where there is no copy yet or the file system has no hard links
 * (the rename then frees them at once, as before).
 */
async function keepAside(checkpoint: string, retired: string): Promise<boolean> {
  try {
    await link(checkpoint, retired);
    return true;
  } catch {
    return false;
  }
}
