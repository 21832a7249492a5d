import type { Logger } from 'pino';

/** The two disk stores behind the Storage port. */
export type StoreKind = 'wal' | 'lmdb';

/** What both disk stores behind the Storage port (WalStorage, LmdbStorage) are given. */
export interface DiskStoreInit {
  /** The store's directory; created if missing. */
  readonly path: string;
  /** A brand-new store belongs to a founding member and may vote (ZooKeeper's marker file). */
  readonly initialize: boolean;
  /** Told of a failed write; the default logs it and ends the process. */
  readonly onFailure?: (error: Error) => void;
  /** Told how long each batch took from its first write to durable, for metrics. */
  readonly onFlushed?: (durationMs: number, writes: number) => void;
}

export interface DiskStoreStats {
  /** Write requests made durable. */
  writes: number;
  /** Batches made durable, each ending in one Durable. */
  commits: number;
}

/** The default for a failed write: stop the node, which must not acknowledge what is not on disk. */
export function stopNodeOnFailure(log: Logger): (error: Error) => void {
  return (error) => {
    log.fatal({ err: error }, 'storage write failed: stopping the node');
    process.exit(1);
  };
}
