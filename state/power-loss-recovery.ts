import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  replaceFileSync,
  replaceWithCopySync,
  syncDirectorySync,
} from '../components/storage/atomic-file.js';

/**
 * lmdb runs without fsync (noSync): a commit is in the page cache once it returns, which a killed
 * process keeps (lmdb never reuses the pages of the last commit, and writes its meta page last),
 * but a power loss or a kernel crash may write some of a commit's pages and not others, and lmdb
 * has no checksum to notice the torn B-tree. What survives those is the checkpoint copy
 * (checkpoint-copies.ts): the whole environment as of a checkpoint, fsynced, which the log was
 * compacted behind only once it was durable (ZooKeeper's snapshot beside its transaction log).
 *
 * How a start tells the two apart: before lmdb opens, the boot's id goes into a marker file,
 * which a clean close removes after a forced sync. A marker left by another boot means the page
 * cache may have lost commits: the copy goes back in place of lmdb's file and the log replays
 * from the copy's applied zxid. Where the boot's id cannot be read (not Linux), any marker left
 * behind counts as another boot's: slower restarts after a crash, never a torn state.
 */
export const DATA_FILE = 'data.mdb';
export const CHECKPOINT_FILE = 'checkpoint.mdb';
/** A copy being made, and the copy a new one replaced, being freed (checkpoint-copies.ts). */
export const COPYING_DIRECTORY = 'checkpoint.tmp';
export const RETIRED_FILE = 'checkpoint.retired';
const LOCK_FILE = 'lock.mdb';
const MARKER_FILE = 'unsynced';
const UNKNOWN_BOOT = 'unknown';
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** What a start found in lmdb's directory. */
export type StateRecovery =
  /** Closed cleanly (or never opened): lmdb's file is whole. */
  | 'clean'
  /** The last process stopped without a close, in this boot: the page cache kept every commit. */
  | 'kept'
  /** Another boot's marker: the checkpoint copy replaced lmdb's file. */
  | 'restored'
  /** Another boot's marker and no copy yet: the state starts empty, the whole log replays. */
  | 'emptied';

/** This boot's id (Linux), or null where there is none to read. */
export function currentBootId(): string | null {
  try {
    const id = readFileSync(BOOT_ID_FILE, 'utf8').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

/**
 * Readies lmdb's directory `path` before lmdb opens it (see the module comment): puts the copy
 * back after a power loss, makes a first copy where there is none yet (a data directory written
 * by a version that fsynced every commit), and leaves this boot's marker, durably, before any
 * commit can go unsynced.
 */
export function prepareStateDirectory(path: string, bootId: string | null): StateRecovery {
  mkdirSync(path, { recursive: true });
  // Garbage at a start: a copy a stop interrupted, a replaced one a stop left unfreed.
  rmSync(join(path, COPYING_DIRECTORY), { recursive: true, force: true });
  rmSync(join(path, RETIRED_FILE), { force: true });
  const data = join(path, DATA_FILE);
  const checkpoint = join(path, CHECKPOINT_FILE);
  const marker = readMarker(path);
  let recovery: StateRecovery = 'clean';
  if (marker !== null) {
    if (bootId !== null && marker === bootId) recovery = 'kept';
    else {
      rmSync(join(path, LOCK_FILE), { force: true });
      if (existsSync(checkpoint)) {
        replaceWithCopySync(checkpoint, data);
        recovery = 'restored';
      } else {
        rmSync(data, { force: true });
        syncDirectorySync(path);
        recovery = 'emptied';
      }
    }
  }
  // Whole here: closed cleanly, or kept by the page cache of this boot.
  if (!existsSync(checkpoint) && existsSync(data)) replaceWithCopySync(data, checkpoint);
  replaceFileSync(join(path, MARKER_FILE), bootId ?? UNKNOWN_BOOT);
  return recovery;
}

/** lmdb's file is synced and closed: a power loss from now on loses nothing of it. */
export function markSynced(path: string): void {
  rmSync(join(path, MARKER_FILE), { force: true });
  syncDirectorySync(path);
}

function readMarker(path: string): string | null {
  try {
    return readFileSync(join(path, MARKER_FILE), 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
