import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import fsExt from 'fs-ext';
import { PRIVATE_FILE_MODE } from '../components/private-file.js';

/** The file in a data directory that its node holds an exclusive flock(2) on. */
export const LOCK_FILE = 'LOCK';

/** Another live process holds the data directory. */
export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | null,
  ) {
    super(
      `data directory ${dataDir} is in use by ${holderPid === null ? 'another process' : `process ${holderPid}`}` +
        ': stop it first (two nodes on one log is how stores lose data)',
    );
    this.name = 'DataDirInUse';
  }
}

/**
 * Takes an exclusive, non-blocking flock on `<dataDir>/LOCK` for the life of this process (as
 * etcd flocks its WAL and LevelDB its LOCK file). The kernel drops the lock when the process
 * ends however it ends, kill -9 included, so a crashed node never blocks its restart; a pid
 * file alone would (or, with the pid reused, would wrongly let it through). The holder's pid is
 * written into the file only to name it to a second process, which reads that and nothing else:
 * it opens the file without truncating it and leaves the directory as it found it.
 */
export function lockDataDir(dataDir: string): void {
  const fd = acquire(dataDir);
  // Held from here on: the descriptor stays open until the process exits.
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
}

/**
 * Runs `work` holding the data directory's lock, for a tool that changes a stopped node's
 * directory (a wiped group): it fails with DataDirInUse while a node runs on it, and a node
 * started meanwhile fails to start rather than find half a store. The holder's pid is not
 * written: the file still names the last node that ran there.
 */
export function whileLocked<T>(dataDir: string, work: () => T): T {
  const fd = acquire(dataDir);
  try {
    return work();
  } finally {
    closeSync(fd); // drops the flock
  }
}

/** An open descriptor of `<dataDir>/LOCK` holding its exclusive flock. */
function acquire(dataDir: string): number {
  const path = join(dataDir, LOCK_FILE);
  const fd = openSync(path, 'a+', PRIVATE_FILE_MODE);
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch (error) {
    closeSync(fd);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      throw new DataDirInUse(dataDir, holderOf(path));
    }
    throw error;
  }
  return fd;
}

function holderOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
