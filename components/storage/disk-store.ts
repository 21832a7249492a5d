import type { RootDatabase } from 'lmdb';
import { constants } from 'node:os';
import type { Logger } from 'pino';

/** The two disk stores behind the Storage port. */
export type StoreKind = 'wal' | 'lmdb';

/** What both disk stores behind the Storage port (WalStorage, LmdbStorage) are given. */
export interface DiskStoreInit {
  /** The store's directory; created if missing. */
  readonly path: string;
  /** A brand-new store belongs to a founding member and may vote (ZooKeeper's marker file). */
  readonly initialize: boolean;
  /**
   * Told when the store cannot even roll back after a failed write (its files are in a state
   * it cannot vouch for); the default logs it and ends the process. A failed write it can roll
   * back is reported on the port instead (WriteFailed) and the node stays up.
   */
  readonly onFailure?: (error: Error) => void;
  /** Told how long each batch took from its first write to durable, for metrics. */
  readonly onFlushed?: (durationMs: number, writes: number) => void;
  /** Free bytes below which the store reports SpaceLow (plus room for the next snapshot). */
  readonly minFreeBytes?: number;
  /** How often free space is checked (statfs of the directory). */
  readonly spaceCheckMs?: number;
  /** Free bytes of the file system holding `path` (tests replace the statfs call). */
  readonly freeBytes?: (path: string) => Promise<number>;
}

export interface DiskStoreStats {
  /** Write requests made durable. */
  writes: number;
  /** Batches made durable, each ending in one Durable. */
  commits: number;
  /** Batches that failed and were rolled back (WriteFailed). */
  failures: number;
}

/**
 * The default for a store that cannot roll back: stop the node, which must not acknowledge
 * what is not on disk.
 */
export function stopNodeOnFailure(log: Logger): (error: Error) => void {
  return (error) => {
    log.fatal({ err: error }, 'storage failed and could not roll back: stopping the node');
    process.exit(1);
  };
}

const { ENOSPC, EDQUOT, EIO } = constants.errno;

/**
 * ENOSPC and EDQUOT: the disk (or the user's quota on it) is full, not broken. Node's fs errors
 * name the code ('ENOSPC'); lmdb-js' carry the errno's number (28).
 */
export function isNoSpace(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === ENOSPC || code === EDQUOT;
}

/**
 * Whether `cause`, why lmdb refused a commit (commitFailureCause), is a full disk: ENOSPC or
 * EDQUOT, or the EIO lmdb makes of a write the disk took only part of (mdb.c: "short write,
 * filesystem full?"; on tmpfs every full-disk commit but the smallest came back so) while
 * fewer than the `needed` bytes the transaction may write are free. An EIO with room to spare
 * is the disk failing.
 */
export function isLmdbNoSpace(cause: unknown, freeBytes: number, needed: number): boolean {
  return isNoSpace(cause) || (codeOf(cause) === EIO && freeBytes < needed);
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/**
 * lmdb-js (3.5.6, write.js) rejects two promises of its own when a commit fails and leaves both
 * without a handler, so Node ends the process before the store hears of the failure: the
 * promise of the batch it opens for each event-loop turn's writes (`writeBatchStart`, whose
 * result it drops), rejected "Commit failed", and the `commitError` that error carries, rejected
 * with the cause (ENOSPC, EIO). This handles both for every transaction of `root`. The turn's
 * promise is lmdb's `committed` right after that batch starts, in the task whose first act is
 * to call the `beforecommit` listeners: the microtask queued there runs before any other write
 * can start the next one.
 */
export function handleLmdbCommitFailures(root: RootDatabase): void {
  root.on('beforecommit', () =>
    queueMicrotask(() => void root.committed.then(() => undefined, quietCommitFailure)),
  );
}

/**
 * For the rejection of an lmdb write the caller needs no more of: marks the cause it carries
 * handled too (handleLmdbCommitFailures says why it must be).
 */
export function quietCommitFailure(error: unknown): void {
  void commitErrorOf(error)?.then(undefined, () => undefined);
}

/** How long a failed commit's cause is waited for at most (commitFailureCause). */
const CAUSE_WAIT_MS = 1_000;

/**
 * Why lmdb refused a commit whose write was rejected with `error`: lmdb rejects every write of
 * the transaction with a bare "Commit failed" and gives the cause (ENOSPC, EIO: what says
 * whether the disk is full) to the promise in its `commitError`, in the same report from its
 * write thread or the next. Should that promise stay pending (lmdb takes a few errnos for
 * progress reports), the bare error stands after a second: the store must fail either way.
 * Any other error is its own cause.
 */
export function commitFailureCause(error: unknown): Promise<Error> {
  const failed = asError(error);
  const commitError = commitErrorOf(error);
  if (commitError === null) return Promise.resolve(failed);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(failed), CAUSE_WAIT_MS);
    timer.unref();
    const settle = (cause: Error): void => {
      clearTimeout(timer);
      resolve(cause);
    };
    void commitError.then(
      () => settle(failed),
      (cause: unknown) => settle(asError(cause)),
    );
  });
}

function commitErrorOf(error: unknown): PromiseLike<unknown> | null {
  const commitError = (error as { commitError?: unknown } | null)?.commitError;
  return typeof (commitError as PromiseLike<unknown> | undefined)?.then === 'function'
    ? (commitError as PromiseLike<unknown>)
    : null;
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
