import type { Logger } from 'pino';
import type { ComponentClass, ComponentDefinition } from '../components/kernel/index.js';
import type { DiskStoreInit, StoreKind } from '../components/storage/disk-store.js';
import { LmdbStorage } from '../components/storage/lmdb-storage.js';
import { WalStorage } from '../components/storage/wal-storage.js';
import { groupLogPath } from './group-data.js';

type Create = <Init, C extends ComponentDefinition>(cls: ComponentClass<Init, C>, init: Init) => C;

export interface GroupStoreOptions {
  readonly kind: StoreKind;
  readonly dataDir: string;
  readonly group: number;
  /** The node formed the cluster in this process (TableReady.founding): its stores may vote. */
  readonly founding: boolean;
  /** A log flush slower than this is logged at warn. */
  readonly slowFsyncMs: number;
  /** Every log flush's duration, for the fsync histogram. */
  readonly flushed: (durationMs: number) => void;
  /** Free disk space below which the store reports SpaceLow; default: the store's own. */
  readonly minFreeBytes?: number;
  readonly log: Logger;
}

/** The disk store of this node's replica of `group`, created with `create` (the host's). */
export function createGroupStore(
  create: Create,
  options: GroupStoreOptions,
): LmdbStorage | WalStorage {
  const { slowFsyncMs, log } = options;
  const settings: DiskStoreInit = {
    path: groupLogPath(options.dataDir, options.group, options.kind),
    // Only a founding member's new store may vote at once. A node restarting from its saved
    // table with no store (a wiped disk, or a switch of --storage), or with its whole data
    // directory wiped (the bootstrap node sends the table again, not as founding), holds none of
    // the history it may have acknowledged: it must sync before it counts (ZOOKEEPER-261).
    initialize: options.founding,
    onFlushed: (durationMs, writes) => {
      options.flushed(durationMs);
      if (durationMs > slowFsyncMs) log.warn({ durationMs, writes }, 'slow log flush (fsync)');
    },
    ...(options.minFreeBytes === undefined ? {} : { minFreeBytes: options.minFreeBytes }),
  };
  return options.kind === 'lmdb' ? create(LmdbStorage, settings) : create(WalStorage, settings);
}
