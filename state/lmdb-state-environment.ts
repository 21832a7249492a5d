import { open, type Database, type RootDatabase } from 'lmdb';
import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import { reserveAhead, type GrowthReserve } from '../components/storage/growth-reserve.js';
import {
  DEFAULT_COMMIT_PACING,
  LmdbStateStore,
  type CommitPacing,
  type GroupMeta,
} from './lmdb-state-store.js';

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

  constructor(
    private readonly path: string,
    options: {
      readonly pacing?: CommitPacing;
      /** Blocks held past the data file; by default fallocate's (see GrowthReserve). */
      readonly reserve?: GrowthReserve;
      readonly log?: Logger;
    } = {},
  ) {
    this.pacing = options.pacing ?? DEFAULT_COMMIT_PACING;
    // overlappingSync (lmdb-js' default off Windows): a commit returns before its fsync, which
    // runs beside the next commits; nothing waits for it but a checkpoint (the WAL is the
    // durability point), and lmdb's meta pages keep the file consistent across a crash.
    // How often a transaction starts is the store's to pace (`pacing`): lmdb-js'
    // own commitDelay does nothing for batch() writes, which it starts at once.
    this.root = open({ path, maxDbs: 256 });
    this.meta = this.root.openDB<GroupMeta, string>('meta', { encoding: 'msgpack' });
    this.reserve =
      options.reserve ??
      reserveAhead(path, (reason) =>
        options.log?.warn(
          { path, reason },
          'cannot hold disk blocks ahead of the applied state: a disk that fills during a commit may abort the node',
        ),
      );
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
        this.pacing,
      );
      this.stores.set(group, store);
    }
    return store;
  }

  /** Waits for every write to commit and flush, then closes the environment. */
  async close(): Promise<void> {
    await Promise.all([...this.stores.values()].map((store) => store.close()));
    await this.root.flushed;
    await this.root.close();
    this.reserve.close();
  }
}

function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return Number(stats.bavail) * Number(stats.bsize);
}
