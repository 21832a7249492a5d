import { describe, expect, it } from 'vitest';
import { ScriptedReserve } from './fixtures/scripted-reserve.js';
import { append, diskStoreHarness, durableThrough, zxids } from './fixtures/disk-store-harness.js';

/**
 * LmdbStorage starts a batch only once disk blocks past lmdb's file cover what it may grow the
 * file by (components/storage/growth-reserve.ts: lmdb-js aborts on a write that fails ENOSPC).
 */
describe('LmdbStorage growth reserve', () => {
  const { tempDir, start, stop, reopen } = diskStoreHarness('lmdb');

  it('waits for the blocks before the batch, then makes it durable', async () => {
    const reserve = new ScriptedReserve();
    const host = start(tempDir(), { reserve });
    host.user.write(append(1, 1, 2));
    // A second write while the first waits asks for nothing more: the gate holds one request.
    host.user.write(append(2, 3));
    await expect.poll(() => reserve.asked).toHaveLength(1);
    // Nothing is durable before the disk answers: lmdb has not seen the batch.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(host.user.durable).toEqual([]);
    reserve.answer(true);
    await durableThrough(host, 2);
    expect(host.user.failures).toEqual([]);
  });

  it('fails the writes as a full disk would, writing nothing, when the disk refuses the blocks', async () => {
    const path = tempDir();
    const reserve = new ScriptedReserve();
    const host = start(path, { reserve });
    host.user.write(append(1, 1));
    await expect.poll(() => reserve.asked).toHaveLength(1);
    reserve.answer(false);
    await expect.poll(() => host.user.failures).toHaveLength(1);
    expect(host.user.failures[0]).toMatchObject({ seq: 1, noSpace: true });
    expect(host.user.failures[0]!.reason).toMatch(/no room for the log: the disk refused/);
    expect(host.user.durable).toEqual([]);
    // Writes are dropped until a Load; then, with room, they go through.
    host.user.write(append(2, 2));
    host.user.load();
    await expect.poll(() => host.user.images).toHaveLength(1);
    expect(zxids(host.user.images[0]!)).toEqual([]);
    host.user.write(append(3, 1));
    await expect.poll(() => reserve.asked).toHaveLength(2);
    reserve.answer(true);
    await durableThrough(host, 3);
    await stop(host);
    expect(zxids((await reopen(path)).image)).toEqual([1]);
  });
});
