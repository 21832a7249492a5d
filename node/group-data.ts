import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
 * Deletes a stopped node's data of `group`, of either log kind, so that it restarts empty and
 * must re-sync from the leader (SNAP); it keeps its lookup table, so it rejoins as a member
 * that may not vote until synced (group-store.ts). Holds the directory's lock while it
 * deletes: throws DataDirInUse if the node still runs.
 */
export function wipeGroupData(dataDir: string, group: number): void {
  whileLocked(dataDir, () => {
    const paths = [
      groupLogPath(dataDir, group, 'wal'),
      groupLogPath(dataDir, group, 'lmdb'),
      appliedStatePath(dataDir),
    ];
    for (const path of paths) rmSync(path, { recursive: true, force: true });
  });
}
