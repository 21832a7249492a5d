import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StoreKind } from '../components/storage/disk-store.js';
import { whileLocked } from './data-dir-lock.js';

/**
 * Where a node keeps its replica of a group, in its data directory: the group's log (one
 * store per kind: `group-<g>` for lmdb, `group-<g>.wal` for the WAL) and the applied state
 * (lmdb, `state/`; a node is a member of one group). Beside them, and not the group's: the
 * lookup table and the LOCK file.
 */
export function groupLogPath(dataDir: string, group: number, kind: StoreKind): string {
  const base = join(dataDir, `group-${group}`);
  return kind === 'lmdb' ? base : `${base}.wal`;
}

export function appliedStatePath(dataDir: string): string {
  return join(dataDir, 'state');
}

/**
 * Takes a stopped node's data of `group`, of either log kind, so that it restarts empty and
 * must re-sync from the leader (SNAP); it keeps its lookup table, so it rejoins as a member
 * that may not vote until synced (group-store.ts). Holds the directory's lock meanwhile:
 * throws DataDirInUse if the node still runs.
 *
 * Deleted at once, or with `asideIn` (a directory on the same file system) moved into a new
 * directory there for the caller to delete later: a rename is instant, while unlinking a file of
 * gigabytes holds ext4's journal, and with it every O_DSYNC log write of the nodes that share the
 * disk (a bench's or an experiment's), for up to a second (1M keys: writes stalled 130 ms).
 */
export function wipeGroupData(dataDir: string, group: number, asideIn?: string): void {
  whileLocked(dataDir, () => {
    const paths = [
      groupLogPath(dataDir, group, 'wal'),
      groupLogPath(dataDir, group, 'lmdb'),
      appliedStatePath(dataDir),
    ];
    if (asideIn === undefined) {
      for (const path of paths) rmSync(path, { recursive: true, force: true });
      return;
    }
    mkdirSync(asideIn, { recursive: true });
    const aside = mkdtempSync(join(asideIn, 'wiped-'));
    for (const path of paths) {
      try {
        renameSync(path, join(aside, basename(path)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  });
}
