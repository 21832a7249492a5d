/**
 * A commit lmdb refuses must reach LmdbStorage's failure path (WriteFailed: the node stays up
 * and reloads) and must not end the process: lmdb-js leaves promises of a failed commit
 * unhandled (components/storage/disk-store.ts, handleLmdbCommitFailures). WriteFailed says
 * whether the disk is full from lmdb's cause, which lmdb hides behind a bare "Commit failed".
 * A child process runs the store under a file-size limit (any machine) and on a full tmpfs
 * (root only, like test/process/disk-full.test.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WriteFailed } from '../../components/storage/index.js';

const FIXTURE = 'dist/test/storage/fixtures/refused-log-commit.js';
/** lmdb's file starts well below this; the fixture's transaction needs twice as much. */
const FILE_SIZE_LIMIT = 4 * 2 ** 20;

function commandFails(command: string, args: readonly string[]): string | null {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error !== undefined) return result.error.message;
  return result.status === 0 ? null : `${command} failed: ${result.stderr.trim()}`;
}

/** Runs the fixture on `path`, behind `wrapper` if any; returns its report. */
function runFixture(path: string, wrapper: readonly string[] = []): WriteFailed {
  const [command, ...args] = [...wrapper, process.execPath, FIXTURE, path];
  const child = spawnSync(command!, args, { encoding: 'utf8', timeout: 40_000 });
  // Without handlers on lmdb's own promises the child exits 1 at the refused commit.
  expect(child.stderr).not.toMatch(/Commit failed|unhandled/i);
  expect(child.status).toBe(0);
  const report = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as WriteFailed | null;
  expect(report).toMatchObject({ kind: 'WriteFailed', seq: 1 });
  return report!;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function directory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-refused-log-'));
  dirs.push(dir);
  return dir;
}

const noLimit = commandFails('prlimit', ['--fsize=1000000', 'true']);
if (noLimit !== null) console.warn(`skipping the file-size-limit test: ${noLimit}`);

describe.skipIf(noLimit !== null)('an lmdb log commit past a file-size limit', () => {
  it("is a WriteFailed with lmdb's cause, not a full disk, and the process lives on", () => {
    const failed = runFixture(join(directory(), 'log'), ['prlimit', `--fsize=${FILE_SIZE_LIMIT}`]);
    // A short write past the limit is EIO, one that starts past it EFBIG; the disk has room.
    expect(failed.reason).toMatch(/Input\/output error|File too large/);
    expect(failed.noSpace).toBe(false);
  });
});

/** Why this machine cannot mount a tmpfs for the test, or null if it can. */
function whyNoMount(): string | null {
  if (process.platform !== 'linux') return `mounting a tmpfs needs Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  const probe = directory();
  const failed = commandFails('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (failed === null) execFileSync('umount', [probe]);
  return failed;
}

const noMount = whyNoMount();
if (noMount !== null) console.warn(`skipping the full tmpfs test: ${noMount}`);

describe.skipIf(noMount !== null)('an lmdb log commit on a full tmpfs', () => {
  it('is a WriteFailed that says the disk is full, and the process lives on', () => {
    const mount = directory();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
    try {
      // Room for lmdb's files at open, not for the fixture's 8 MB transaction.
      const { bavail, bsize } = statfsSync(mount);
      const fill = Number(bavail) * Number(bsize) - 2 * 2 ** 20;
      execFileSync('fallocate', ['-l', String(fill), join(mount, 'filler')]);
      const failed = runFixture(join(mount, 'log'));
      // tmpfs makes most of lmdb's full-disk writes short, which lmdb reports as EIO.
      expect(failed.reason).toMatch(/Input\/output error|No space left on device/);
      expect(failed.noSpace).toBe(true);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
