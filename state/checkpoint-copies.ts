import type { RootDatabase } from 'lmdb';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { installFile, syncFile } from '../components/storage/atomic-file.js';
import { CHECKPOINT_FILE, DATA_FILE } from './power-loss-recovery.js';

/** Free space a copy leaves beside itself, for lmdb's commits and the log meanwhile. */
const COPY_MARGIN_BYTES = 8 * 2 ** 20;
/** A copy the disk refused is tried again after this, doubling up to the maximum. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const COPYING_DIRECTORY = 'checkpoint.tmp';

/** Told of each copy (the node's metrics). */
export interface CopyObserver {
  copied(bytes: number, durationMs: number): void;
  /** A copy failed (no room, an I/O error): it is tried again. */
  failed(): void;
}

/**
 * The checkpoint copies of one lmdb environment (power-loss-recovery.ts says why they exist):
 * mdb_env_copy of the whole environment on lmdb's own thread (a read transaction: commits go on
 * meanwhile), fsynced, then renamed over the last copy. Requests that arrive while a copy runs
 * share the next one, so the stores of several groups cost one copy per round.
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
    try {
      await this.root.backup(directory, false);
      const copied = join(directory, DATA_FILE);
      await syncFile(copied);
      await installFile(copied, join(this.path, CHECKPOINT_FILE));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    const durationMs = performance.now() - started;
    this.observer?.copied(dataBytes, durationMs);
    this.log?.debug(
      { bytes: dataBytes, ms: Math.round(durationMs) },
      'applied state copied for a checkpoint',
    );
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = resolve;
      this.retryTimer = setTimeout(resolve, ms);
      this.retryTimer.unref();
    });
  }
}
