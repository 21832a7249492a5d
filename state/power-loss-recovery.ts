import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { asError } from '../components/storage/disk-store.js';
import {
  readFileIfThere,
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
 *
 * A full disk must not stop a start (a supervisor would restart it in a loop): a marker that
 * holds this boot's id already is left as it is, and where the marker cannot be written, or
 * lmdb's file has no copy yet that a power loss could put back, lmdb syncs every commit for the
 * run instead (as before copies existed), which leaves its file whole after a power loss, and
 * no marker is left. The first checkpoint makes the copy then, retrying until there is room.
 */
export const DATA_FILE = 'data.mdb';
export const CHECKPOINT_FILE = 'checkpoint.mdb';
/** A copy being made, and the copy a new one replaced, being freed (checkpoint-copies.ts). */
export const COPYING_DIRECTORY = 'checkpoint.tmp';
export const RETIRED_FILE = 'checkpoint.retired';
const LOCK_FILE = 'lock.mdb';
const MARKER_FILE = 'unsynced';
/** What atomic-file.ts names a file's replacement while it writes it. */
const TEMPORARY_SUFFIX = '.tmp';
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

/** What a start found, and how lmdb must commit this run. */
export interface PreparedState {
  readonly recovery: StateRecovery;
  /**
   * Why lmdb must sync every commit this run, or null: no marker could be left, or there is no
   * copy of lmdb's file yet (see the module comment).
   */
  readonly syncCommits: string | null;
}

/** How a start replaces files (atomic-file.ts); tests stand in a disk that refuses writes. */
export interface StateFiles {
  /** Replaces `path` with `contents`, durably (replaceFileSync). */
  replace(path: string, contents: string): void;
  /** Replaces `path` with a copy of `from`, durably (replaceWithCopySync). */
  copy(from: string, path: string): void;
}

const DISK: StateFiles = { replace: replaceFileSync, copy: replaceWithCopySync };

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
 * commit can go unsynced; or, where the disk refuses the copy or the marker, says lmdb must
 * sync its commits.
 */
export function prepareStateDirectory(
  path: string,
  bootId: string | null,
  files: StateFiles = DISK,
): PreparedState {
  mkdirSync(path, { recursive: true });
  const data = join(path, DATA_FILE);
  const checkpoint = join(path, CHECKPOINT_FILE);
  const markerFile = join(path, MARKER_FILE);
  // Garbage at a start: a copy a stop interrupted, a replaced one a stop left unfreed, the
  // half-written replacement of a file that a stop or a full disk cut short.
  rmSync(join(path, COPYING_DIRECTORY), { recursive: true, force: true });
  rmSync(join(path, RETIRED_FILE), { force: true });
  for (const file of [data, checkpoint, markerFile]) rmTemporary(file);
  const marker = readMarker(path);
  let recovery: StateRecovery = 'clean';
  if (marker !== null) {
    if (bootId !== null && marker === bootId) recovery = 'kept';
    else {
      rmSync(join(path, LOCK_FILE), { force: true });
      // lmdb's file may be torn: it goes first, so that a full disk has its room for the copy.
      // The marker stays until this boot's replaces it: a stop in between restores again.
      rmSync(data, { force: true });
      if (existsSync(checkpoint)) {
        files.copy(checkpoint, data);
        recovery = 'restored';
      } else {
        syncDirectorySync(path);
        recovery = 'emptied';
      }
    }
  }
  let syncCommits: string | null = null;
  // Whole here: closed cleanly, or kept by the page cache of this boot.
  if (!existsSync(checkpoint) && existsSync(data)) {
    try {
      files.copy(data, checkpoint);
    } catch (error) {
      rmTemporary(checkpoint);
      // Kept: this boot's marker stays, and a power loss empties the state, which is whole in
      // the log: a marker with no copy beside it is only ever left by runs that started from
      // no state at all (a run whose copy failed from a state it found writes no marker), so
      // the log was never compacted behind it.
      if (recovery !== 'kept')
        syncCommits = `no first copy of the state: ${asError(error).message}`;
    }
  }
  if (syncCommits === null && recovery !== 'kept') {
    try {
      files.replace(markerFile, bootId ?? UNKNOWN_BOOT);
    } catch (error) {
      rmTemporary(markerFile);
      syncCommits = `no marker: ${asError(error).message}`;
    }
  }
  if (syncCommits !== null) {
    // A marker here is another boot's, whose torn file is put right by now; synced, lmdb's
    // file stays whole, and a marker left would only put the copy back for nothing.
    rmSync(markerFile, { force: true });
    syncDirectorySync(path);
  }
  return { recovery, syncCommits };
}

/** lmdb's file is synced and closed: a power loss from now on loses nothing of it. */
export function markSynced(path: string): void {
  rmSync(join(path, MARKER_FILE), { force: true });
  syncDirectorySync(path);
}

function rmTemporary(path: string): void {
  rmSync(`${path}${TEMPORARY_SUFFIX}`, { force: true });
}

function readMarker(path: string): string | null {
  return readFileIfThere(join(path, MARKER_FILE))?.trim() ?? null;
}
