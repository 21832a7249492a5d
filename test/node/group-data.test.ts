import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fsExt from 'fs-ext';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { StoreKind } from '../../components/storage/disk-store.js';
import { DataDirInUse, LOCK_FILE } from '../../node/data-dir-lock.js';
import { wipeGroupData } from '../../node/group-data.js';
import { saveTable } from '../../node/table-file.js';
import { startOneNode } from './one-node.js';

// `wipe` in experiments (and the wiped-follower tests) must leave a node nothing of its group,
// whichever log store it ran, and keep what is not the group's: its lookup table and LOCK.

const root = mkdtempSync(join(tmpdir(), 'zabkv-wipe-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A data directory a one-node cluster of `storage` wrote to, then stopped. */
async function usedDataDir(storage: StoreKind): Promise<string> {
  const dataDir = mkdtempSync(join(root, `${storage}-`));
  const host = await startOneNode({
    clusterId: 'wipe-test',
    dataDir,
    storage,
    saveTable: (table) => saveTable(dataDir, table),
  });
  const app = host.frontend.server;
  await vi.waitFor(
    async () =>
      expect((await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' })).statusCode).toBe(
        200,
      ),
    { timeout: 20_000, interval: 50 },
  );
  await host.shutdown(1_000);
  closeSync(openSync(join(dataDir, LOCK_FILE), 'a'));
  return dataDir;
}

describe('wipeGroupData', () => {
  it.each(['wal', 'lmdb'] as const)(
    'leaves a stopped node of %s storage only its lookup table and LOCK',
    async (storage) => {
      const dataDir = await usedDataDir(storage);
      expect(readdirSync(dataDir).length).toBeGreaterThan(2);
      wipeGroupData(dataDir, 0);
      expect(readdirSync(dataDir).sort()).toEqual([LOCK_FILE, 'lookup-table.json']);
    },
    30_000,
  );

  it('with asideIn, moves the group of a stopped node there instead of deleting it', async () => {
    const dataDir = await usedDataDir('wal');
    const groupFiles = readdirSync(dataDir)
      .filter((name) => name !== LOCK_FILE && name !== 'lookup-table.json')
      .sort();
    const asideIn = join(root, 'aside');
    wipeGroupData(dataDir, 0, asideIn);
    expect(readdirSync(dataDir).sort()).toEqual([LOCK_FILE, 'lookup-table.json']);
    const [aside, ...more] = readdirSync(asideIn);
    expect(more).toEqual([]);
    expect(readdirSync(join(asideIn, aside!)).sort()).toEqual(groupFiles);
  }, 30_000);

  it('refuses, deleting nothing, while a node holds the directory', async () => {
    const dataDir = await usedDataDir('wal');
    const before = readdirSync(dataDir).sort();
    // What a running node holds: an exclusive flock on LOCK (another descriptor conflicts).
    const fd = openSync(join(dataDir, LOCK_FILE), 'a+');
    fsExt.flockSync(fd, 'exnb');
    try {
      expect(() => wipeGroupData(dataDir, 0)).toThrow(DataDirInUse);
    } finally {
      closeSync(fd);
    }
    expect(readdirSync(dataDir).sort()).toEqual(before);
  }, 30_000);
});
