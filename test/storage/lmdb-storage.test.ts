import { open, type Database } from 'lmdb';
import { describe, expect, it, vi } from 'vitest';
import { sealEntry, sealSnapshot } from '../../components/storage/stored-record.js';
import { diskStoreContract } from './disk-store-contract.js';
import {
  append,
  diskStoreHarness,
  durableThrough,
  entry,
  zxids,
  DISCARDED_WITH_EPOCHS_4_3,
} from './fixtures/disk-store-harness.js';

/** Writes to the environment behind the store's back, as damage would. */
async function tamper(path: string, act: (dbs: Tampering) => void): Promise<void> {
  const root = open({ path, maxDbs: 4 });
  act({
    log: root.openDB<Uint8Array, number>('log', { encoding: 'binary' }),
    snapshot: root.openDB<Uint8Array, number>('snapshot', { encoding: 'binary' }),
  });
  await root.close();
}
interface Tampering {
  readonly log: Database<Uint8Array, number>;
  readonly snapshot: Database<Uint8Array, number>;
}

describe('LmdbStorage', () => {
  diskStoreContract('lmdb');
  const { tempDir, start, stop, reopen, writeSnapshotted } = diskStoreHarness('lmdb');

  it('refuses a transaction whose predecessor is missing from disk, and counts from the disk after a Load', async () => {
    const path = tempDir();
    const host = start(path);
    host.user.write(append(1, 1));
    await durableThrough(host, 1);
    // As if the transaction before the next one had failed to commit.
    const root = open({ path, maxDbs: 4 });
    root.openDB<number, string>('meta', { encoding: 'msgpack' }).putSync('batches', 0);
    host.user.write(append(2, 2));
    await vi.waitFor(() => expect(host.user.failures).toHaveLength(1));
    expect(host.user.failures[0]!.reason).toMatch(/never committed/);
    expect(host.user.durable).toEqual([1]);
    host.user.load();
    await vi.waitFor(() => expect(host.user.images).toHaveLength(1));
    host.user.write(append(3, 2));
    await durableThrough(host, 3);
    await stop(host);
    await root.close();
    expect(zxids((await reopen(path)).image)).toEqual([1, 2]);
  });

  it.each([
    ['a damaged record in the middle', 2],
    // lmdb writes a record whole or not at all: a bad last record is damage, not a torn
    // write, and dropping it could lose an entry this node has acknowledged.
    ['a damaged last record', 3],
  ])('detects %s: an empty non-voter that keeps its epochs', async (_name, damaged) => {
    const path = tempDir();
    const host = start(path);
    host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 4 });
    host.user.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 3 });
    host.user.write(append(3, 1, 2, 3));
    await durableThrough(host, 3);
    await stop(host);
    await tamper(path, ({ log }) => {
      const record = Uint8Array.from(sealEntry(entry(damaged)));
      record[record.length - 1]! ^= 0x40;
      log.putSync(damaged, record);
    });
    const opened = await reopen(path);
    expect(opened.image).toEqual(DISCARDED_WITH_EPOCHS_4_3);
    // The damage is discarded on disk too: the next start finds a clean, empty non-voter.
    await stop(opened.host);
    expect((await reopen(path)).image).toMatchObject({ damage: 'none', voter: false, log: [] });
  });

  it('treats a short last record and a bad snapshot as damage too', async () => {
    for (const damage of ['short last record', 'bad snapshot'] as const) {
      const path = tempDir();
      await writeSnapshotted(path);
      await tamper(path, ({ log, snapshot }) => {
        if (damage === 'short last record') log.putSync(2, sealEntry(entry(2)).subarray(0, 5));
        else {
          const record = Uint8Array.from(sealSnapshot({ zxid: 1, state: Uint8Array.of(3) }));
          record[record.length - 1]! ^= 0x01;
          snapshot.putSync(0, record);
        }
      });
      expect((await reopen(path)).image).toMatchObject({ damage: 'corrupt', snapshot: null });
    }
  });
});
