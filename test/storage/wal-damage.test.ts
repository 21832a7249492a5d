import {
  copyFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOG_ID_FILE, segmentFile } from '../../components/storage/wal-files.js';
import { append, diskStoreHarness, durableThrough, zxids } from './fixtures/disk-store-harness.js';

// Damage anywhere in the log, not only at its end (issue 15, item 4; README "Damaged data"):
// each is found at start, and the store loads as the empty non-voter that re-syncs, so the
// node serves none of it. Only a torn end of the last segment is a crash's normal leftover.

const segments = (path: string) =>
  readdirSync(path)
    .filter((name) => name.startsWith('wal-'))
    .sort();

/** Where the records of a (zero-preallocated) segment end: after its last non-zero byte. */
function dataEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

describe('WalStorage damage anywhere in the log', () => {
  const { tempDir, start, stop, reopen } = diskStoreHarness('wal');

  /**
   * A stopped store with epochs 4/3 and entries 1..6, one append per segment (each segment is
   * over its 10 bytes after one record), so segments 0..5 hold one entry each.
   */
  async function written(path: string): Promise<void> {
    const host = start(path, { segmentBytes: 10 });
    host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 4 });
    host.user.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 3 });
    await durableThrough(host, 2);
    for (let zxid = 1; zxid <= 6; zxid++) {
      host.user.write(append(2 + zxid, zxid));
      await durableThrough(host, 2 + zxid);
    }
    await stop(host);
    expect(segments(path)).toEqual([0, 1, 2, 3, 4, 5].map(segmentFile));
  }

  /** Loads `path` and expects the damage verdict: no log, no vote, the promises kept. */
  async function expectDiscarded(path: string): Promise<void> {
    const first = await reopen(path);
    expect(first.image).toMatchObject({
      acceptedEpoch: 4,
      currentEpoch: 3,
      voter: false,
      log: [],
      damage: 'corrupt',
    });
    await stop(first.host);
    // The verdict is on disk: the damaged segments are gone and the store still may not vote
    // (it re-syncs from the leader first), even though nothing looks damaged any more.
    expect(segments(path)).toEqual([]);
    const again = await reopen(path);
    expect(again.image).toMatchObject({ voter: false, log: [], damage: 'none' });
    // And it takes new writes, which a later start reads back whole.
    again.host.user.write(append(1, 7, 8));
    await durableThrough(again.host, 1);
    await stop(again.host);
    const after = await reopen(path);
    expect(after.image.damage).toBe('none');
    expect(zxids(after.image)).toEqual([7, 8]);
  }

  it('reads back an undamaged log of many segments (the baseline of what follows)', async () => {
    const path = tempDir();
    await written(path);
    const { image } = await reopen(path);
    expect(image).toMatchObject({ voter: true, damage: 'none' });
    expect(zxids(image)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a bad checksum in a middle segment', async () => {
    const path = tempDir();
    await written(path);
    const file = join(path, segmentFile(2));
    const bytes = readFileSync(file);
    bytes[dataEnd(bytes) - 1]! ^= 0x10; // inside entry 3's payload, all its bytes written
    writeFileSync(file, bytes);
    await expectDiscarded(path);
  });

  it('a torn record at the end of a middle segment (later segments were written after it)', async () => {
    const path = tempDir();
    await written(path);
    const file = join(path, segmentFile(2));
    const bytes = readFileSync(file);
    bytes.fill(0, dataEnd(bytes) - 2); // what a torn last write looks like
    writeFileSync(file, bytes);
    await expectDiscarded(path);
  });

  it('a missing segment in the middle', async () => {
    const path = tempDir();
    await written(path);
    rmSync(join(path, segmentFile(3)));
    await expectDiscarded(path);
  });

  it('a missing first segment that no compaction removed', async () => {
    const path = tempDir();
    await written(path);
    rmSync(join(path, segmentFile(0)));
    await expectDiscarded(path);
  });

  it('first segments removed by compaction are not damage', async () => {
    const path = tempDir();
    await written(path);
    const host = start(path, { segmentBytes: 10 });
    host.user.write({ kind: 'Compact', seq: 1, throughZxid: 3 });
    await durableThrough(host, 1);
    await stop(host);
    expect(segments(path)[0]).toBe(segmentFile(3));
    const { image } = await reopen(path);
    expect(image).toMatchObject({ voter: true, damage: 'none' });
    expect(zxids(image)).toEqual([4, 5, 6]);
  });

  it("a segment of another group's store, even one holding the same entries", async () => {
    const path = tempDir();
    const other = tempDir();
    await written(path);
    await written(other); // byte for byte the same records, but another store's headers
    copyFileSync(join(other, segmentFile(2)), join(path, segmentFile(2)));
    await expectDiscarded(path);
  });

  it('a segment under another number (renamed or copied in place of a later one)', async () => {
    const path = tempDir();
    await written(path);
    copyFileSync(join(path, segmentFile(4)), join(path, segmentFile(5)));
    await expectDiscarded(path);
  });

  it('a lost store id: no segment can be vouched for', async () => {
    const path = tempDir();
    await written(path);
    rmSync(join(path, LOG_ID_FILE));
    await expectDiscarded(path);
    expect(existsSync(join(path, LOG_ID_FILE))).toBe(true);
  });
});
