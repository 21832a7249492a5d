import { open } from 'lmdb';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Zxid } from '../kv/zxid.js';
import type { GroupMeta } from './lmdb-state-store.js';
import { CHECKPOINT_FILE } from './power-loss-recovery.js';

/**
 * The applied zxid of each group in the checkpoint copy of lmdb's directory `path`: what a power
 * loss would put back (power-loss-recovery.ts), so how far the state is durable at a start
 * (lmdb's own file takes unsynced commits from then on). Read from the copy itself, read-only, in a few milliseconds (lmdb
 * reads its meta pages, not the tree). Empty where there is no copy, or where it cannot be read
 * (warned): nothing counts as durable then until the next copy.
 */
export function appliedInCopy(path: string, log?: Logger): ReadonlyMap<string, Zxid> {
  const file = join(path, CHECKPOINT_FILE);
  if (!existsSync(file)) return new Map();
  // lmdb makes a lock file beside a read-only environment: gone with it.
  const lock = `${file}-lock`;
  try {
    const copy = open({ path: file, noSubdir: true, readOnly: true, maxDbs: 256 });
    try {
      const meta = copy.openDB<GroupMeta, string>('meta', { encoding: 'msgpack' });
      return new Map([...meta.getRange()].map(({ key, value }) => [key, value.applied]));
    } finally {
      void copy.close().finally(() => rmSync(lock, { force: true }));
    }
  } catch (error) {
    rmSync(lock, { force: true });
    log?.warn(
      { path: file, err: error },
      'cannot read the checkpoint copy: nothing of the state counts as durable until the next copy',
    );
    return new Map();
  }
}
