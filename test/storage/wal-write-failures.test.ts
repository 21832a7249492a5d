import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { StorageWrite } from '../../components/storage/index.js';
import type { WalOperation } from '../../components/storage/wal-storage.js';
import { sealWalEntry, segmentFile } from '../../components/storage/wal-files.js';

import {
  append,
  diskStoreHarness,
  durableThrough,
  saveSnapshot,
  zxids,
} from './fixtures/disk-store-harness.js';
import type { StorageHost } from './fixtures/storage-user.js';

const entry = (zxid: number, bytes: number) => ({ zxid, payload: new Uint8Array(bytes).fill(7) });
const noSpace = () =>
  Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
const ioError = () => Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });

/**
 * A full disk or a failing one, injected at each file operation of a batch (security.md S4):
 * the batch fails, nothing of it is reported durable, the directory is rolled back to what a
 * restart would find (a prefix of the writes, holding every durable one), and after a Load
 * the store takes writes again, so the node never has to stop.
 */
describe('WalStorage write failures', () => {
  const { tempDir, start, stop, reopen } = diskStoreHarness('wal');

  /** A store whose next `operation` fails with `error()` (once, while `armed`). */
  function failing(path: string, operation: WalOperation, error: () => Error) {
    const state = { armed: false, hits: 0 };
    const host = start(path, {
      segmentBytes: 4_096,
      beforeFileOperation: (op) => {
        if (!state.armed || op !== operation) return;
        state.armed = false;
        state.hits++;
        throw error();
      },
    });
    return { host, state };
  }

  async function reload(host: StorageHost): Promise<number[]> {
    const before = host.user.images.length;
    host.user.load();
    await vi.waitFor(() => expect(host.user.images).toHaveLength(before + 1));
    return zxids(host.user.images.at(-1)!);
  }

  it.each<[WalOperation, (seq: number) => StorageWrite, number[]]>([
    ['log', (seq) => append(seq, 3, 4), [1, 2, 3, 4]],
    // Bigger than the first megabyte preallocated: the file must grow.
    [
      'preallocate',
      (seq) => ({ kind: 'Append', seq, entries: [entry(3, 2 ** 20 + 10)] }),
      [1, 2, 3],
    ],
    ['epochs', (seq) => ({ kind: 'SetCurrentEpoch', seq, epoch: 1 }), [1, 2]],
    ['stage', (seq) => saveSnapshot(seq, 2, Uint8Array.of(1)), [1, 2]],
    ['snapshot', (seq) => saveSnapshot(seq, 2, Uint8Array.of(1)), [1, 2]],
  ])(
    'ENOSPC at %s: WriteFailed, no Durable, rolled back, and writes resume after a Load',
    async (operation, write, after) => {
      const path = tempDir();
      const { host, state } = failing(path, operation, noSpace);
      host.user.write(append(1, 1, 2));
      await durableThrough(host, 1);
      state.armed = true;
      host.user.write(write(2));
      host.user.write(append(3, 9)); // behind the failed one: dropped with it
      await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
      expect(state.hits).toBe(1);
      expect(host.user.failures[0]).toMatchObject({ noSpace: true });
      expect(host.user.durable).toEqual([1]);
      host.user.write(append(4, 10)); // before the Load: ignored
      expect(await reload(host)).toEqual([1, 2]);
      expect(host.user.images.at(-1)).toMatchObject({ currentEpoch: 0, snapshot: null });
      expect(readdirSync(path).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      // Space is back: the same write goes through.
      host.user.write(write(5));
      await durableThrough(host, 5);
      expect(host.store.stats.failures).toBe(1);
      await stop(host);
      const { image } = await reopen(path);
      expect(image.damage).toBe('none');
      expect(zxids(image)).toEqual(after);
    },
  );

  it('a record torn by a short write is cut off, and the next append lands where it began', async () => {
    const path = tempDir();
    const host = start(path, {
      beforeFileOperation: (op) => {
        if (op !== 'log' || host.user.durable.length === 0) return;
        // Half of the batch reached the file before the disk filled.
        const file = join(path, segmentFile(0));
        const bytes = readFileSync(file);
        let end = bytes.length;
        while (end > 0 && bytes[end - 1] === 0) end--;
        bytes.fill(0xab, end, end + 30);
        writeFileSync(file, bytes);
        throw noSpace();
      },
    });
    host.user.write(append(1, 1, 2));
    await durableThrough(host, 1);
    host.user.write(append(2, 3));
    await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
    expect(await reload(host)).toEqual([1, 2]);
    expect(host.user.images.at(-1)!.damage).toBe('torn-tail');
    await stop(host);
    const opened = await reopen(path);
    expect(opened.image.damage).toBe('none'); // the rollback zeroed it
    opened.host.user.write(append(1, 3));
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    expect(zxids((await reopen(path)).image)).toEqual([1, 2, 3]);
  });

  /**
   * A failed write whose bytes reached the page cache (after an EIO Linux may never write them
   * out): the records are in the file as a scan reads it, but not on the disk.
   */
  function failingIntoPageCache(path: string, zeroing: 'works' | 'fails') {
    const failures: Error[] = [];
    const host = start(path, {
      onFailure: (error) => failures.push(error),
      beforeFileOperation: (op) => {
        if (op === 'zero-failed' && zeroing === 'fails') throw ioError();
        if (op !== 'log' || host.user.durable.length === 0) return;
        const file = join(path, segmentFile(0));
        const bytes = readFileSync(file);
        let end = bytes.length;
        while (end > 0 && bytes[end - 1] === 0) end--;
        bytes.set(sealWalEntry(entry(2, 3)), end);
        writeFileSync(file, bytes);
        throw ioError();
      },
    });
    return { host, failures };
  }

  it('a failed log write that reached the page cache is zeroed: the rollback does not read it back', async () => {
    const path = tempDir();
    const { host } = failingIntoPageCache(path, 'works');
    host.user.write(append(1, 1));
    await durableThrough(host, 1);
    host.user.write(append(2, 2));
    await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
    expect(await reload(host)).toEqual([1]);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual([1]);
  });

  it('a failed log write that cannot be zeroed stops the store: the disk is not to be trusted', async () => {
    const path = tempDir();
    const { host, failures } = failingIntoPageCache(path, 'fails');
    host.user.write(append(1, 1));
    await durableThrough(host, 1);
    host.user.write(append(2, 2));
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(failures[0]!.message).toBe('EIO: i/o error');
    expect(host.user.failures).toEqual([]);
    host.user.write(append(3, 3));
    expect(host.user.durable).toEqual([1]);
  });

  it('an EIO fails the batch the same way, reported as not a full disk', async () => {
    const path = tempDir();
    const { host, state } = failing(path, 'log', ioError);
    host.user.write(append(1, 1));
    await durableThrough(host, 1);
    state.armed = true;
    host.user.write(append(2, 2));
    await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
    expect(host.user.failures[0]).toMatchObject({
      seq: 2,
      noSpace: false,
      reason: 'EIO: i/o error',
    });
    expect(await reload(host)).toEqual([1]);
    host.user.write(append(3, 2));
    await durableThrough(host, 3);
  });
});
