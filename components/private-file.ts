import { mkdirSync, statSync, type Stats } from 'node:fs';

/**
 * Files only this node's user may read: the data directory and everything in it, TLS keys,
 * token files. etcd's fileutil uses the same modes (PrivateDirMode, PrivateFileMode).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Group and others: any of these bits set makes a file or directory not private. */
const SHARED_BITS = 0o077;

export class PrivateFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivateFileError';
  }
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * Refuses a secret (a private key, a token file) that others may read, as ssh refuses an
 * unprotected private key: the error names the file, its mode and the fix. Throws as well
 * when the file is missing or not a regular file.
 */
export function assertPrivateFile(path: string, what = 'this file'): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new PrivateFileError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  if (!stats.isFile()) throw new PrivateFileError(`${what} ${path} is not a regular file`);
  if ((stats.mode & SHARED_BITS) !== 0) {
    throw new PrivateFileError(
      `permissions ${octal(stats.mode)} for ${what} ${path} are too open: ` +
        `it must not be accessible by group or others (chmod 600 ${path})`,
    );
  }
}

/** Creates `path` (and missing parents) as a private directory if it does not exist yet. */
export function makePrivateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * A warning when an existing directory is open to group or others, else null. Data
 * directories made before they were created private are warned about, not refused (as etcd
 * does): the node still starts, and the warning says how to fix it.
 */
export function privateDirectoryWarning(path: string): string | null {
  const mode = statSync(path).mode;
  if ((mode & SHARED_BITS) === 0) return null;
  return `directory ${path} has permissions ${octal(mode)}; 0700 keeps other users from reading the data (chmod 700 ${path})`;
}
