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

/** ENOSPC and EDQUOT: the disk (or the user's quota on it) is full, not broken. */
export function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
