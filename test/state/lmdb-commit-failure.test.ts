/**
 * A commit lmdb refuses (a full disk, EIO) must reach the state store as its `failure`, which
 * the replica reloads from, and must not end the process: lmdb-js leaves promises of a failed
 * commit unhandled (components/storage/disk-store.ts, handleLmdbCommitFailures), and Node ends a
 * process at an unhandled rejection. A child process runs the store under a file-size limit,
 * past which every write fails as on a full disk, without root or a file system of its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURE = 'dist/test/state/fixtures/refused-commit.js';
/** lmdb's file starts well below this; the fixture's transaction needs twice as much. */
const FILE_SIZE_LIMIT = 4 * 2 ** 20;

/** Why this machine cannot limit a child's file size, or null if it can. */
function whyNoLimit(): string | null {
  const probe = spawnSync('prlimit', ['--fsize=1000000', 'true'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `no prlimit (util-linux): ${probe.error.message}`;
  return probe.status === 0 ? null : `prlimit failed: ${probe.stderr.trim()}`;
}

const skipReason = whyNoLimit();
if (skipReason !== null) console.warn(`skipping the refused lmdb commit tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('an lmdb commit the disk refuses (state store)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['commit', ''],
    ['install', ''],
    ['commit', 'synced'],
  ] as const)(
    "a refused %s reaches the store as its failure, with lmdb's cause, and the process lives on %s",
    (scenario, synced) => {
      const dir = mkdtempSync(join(tmpdir(), 'zabkv-refused-commit-'));
      dirs.push(dir);
      const args = [FIXTURE, join(dir, 'state'), scenario, synced];
      const child = spawnSync(
        'prlimit',
        [`--fsize=${FILE_SIZE_LIMIT}`, process.execPath, ...args],
        { encoding: 'utf8', timeout: 40_000 },
      );
      // Without handlers on lmdb's own promises the child exits 1 at the refused commit; and
      // it ends on its own only once the environment closed (13: a close that never ended).
      expect(child.stderr).not.toMatch(/Commit failed|unhandled/i);
      expect(child.status).toBe(0);
      const report = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as {
        failure: string | null;
        installFailed: boolean | null;
        syncsCommits: boolean;
      };
      // lmdb's cause (a short write past the limit is EIO, one that starts past it EFBIG), not
      // the bare "Commit failed" it rejects each write with.
      expect(report.failure).toMatch(/Input\/output error|File too large/);
      expect(report.installFailed).toBe(scenario === 'install' ? true : null);
      expect(report.syncsCommits).toBe(synced === 'synced');
    },
  );
});
