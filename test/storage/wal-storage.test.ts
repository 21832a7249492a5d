import { copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanWal, scanWalInSlices, segmentFile } from '../../components/storage/wal-files.js';
import { diskStoreContract } from './disk-store-contract.js';
import type { StoredImage } from '../../components/storage/storage-port.js';
import {
  append,
  diskStoreHarness,
  durableThrough,
  entry,
  zxids,
  DISCARDED_WITH_EPOCHS_4_3,
  saveSnapshot,
} from './fixtures/disk-store-harness.js';

const segments = (path: string) => readdirSync(path).filter((name) => name.startsWith('wal-'));

/** Where the records of a (zero-preallocated) segment end: after its last non-zero byte. */
function dataEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

/** Flips one bit of `file` at `offset` before the end of its data, as bit rot would. */
function rot(file: string, offsetFromEnd: number): void {
  const bytes = readFileSync(file);
  bytes[dataEnd(bytes) - offsetFromEnd]! ^= 0x10;
  writeFileSync(file, bytes);
}

describe('WalStorage', () => {
  diskStoreContract('wal');
  const { tempDir, start, stop, reopen, writeSnapshotted } = diskStoreHarness('wal');

  /** A store with epochs 4/3 and entries 1..3 (each ~20 bytes), stopped. */
  async function written(path: string, payloadBytes = 3): Promise<void> {
    const host = start(path);
    host.user.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 4 });
    host.user.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 3 });
    host.user.write({
      kind: 'Append',
      seq: 3,
      entries: [1, 2, 3].map((zxid) => ({ zxid, payload: new Uint8Array(payloadBytes).fill(9) })),
    });
    await durableThrough(host, 3);
    await stop(host);
  }

  it('drops a torn last record, and appends after it land where it was', async () => {
    const path = tempDir();
    await written(path);
    const file = join(path, segmentFile(0));
    // The last record's last bytes never reached the disk: zeros, as preallocated.
    const bytes = readFileSync(file);
    bytes.fill(0, dataEnd(bytes) - 2);
    writeFileSync(file, bytes);
    let opened = await reopen(path);
    expect(opened.image).toMatchObject({ damage: 'torn-tail', voter: true, acceptedEpoch: 4 });
    expect(zxids(opened.image)).toEqual([1, 2]);
    opened.host.user.write(append(1, 3, 4));
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    opened = await reopen(path);
    expect(opened.image.damage).toBe('none');
    expect(zxids(opened.image)).toEqual([1, 2, 3, 4]);
  });

  it('takes a last record with a zeroed sector for a torn write, a flipped bit for damage', async () => {
    const torn = tempDir();
    await written(torn, 2_000);
    const file = join(torn, segmentFile(0));
    const bytes = readFileSync(file);
    // The last record's middle blocks never written: a whole sector of zeros.
    const end = dataEnd(bytes);
    bytes.fill(0, end - 1_024, end - 256);
    writeFileSync(file, bytes);
    expect((await reopen(torn)).image).toMatchObject({ damage: 'torn-tail', voter: true });

    const rotten = tempDir();
    await written(rotten, 2_000);
    rot(join(rotten, segmentFile(0)), 100);
    expect((await reopen(rotten)).image).toMatchObject({ damage: 'corrupt', voter: false });
  });

  it('takes a record whose piece of a sector is zero, with data after it, for a torn write', async () => {
    // A write of several pages cut by a power loss may keep a later page and not an earlier
    // one: a record crossing into the lost page has a partial sector of zeros, not a whole one
    // (etcd's rule counts the partial sectors at a record's ends too). Taken for damage, the
    // whole log was discarded.
    const path = tempDir();
    const host = start(path);
    const entries = Array.from({ length: 12 }, (_, i) => ({
      zxid: i + 1,
      payload: new Uint8Array(150).fill(9),
    }));
    host.user.write({ kind: 'Append', seq: 1, entries });
    await durableThrough(host, 1);
    await stop(host);
    const file = join(path, segmentFile(0));
    const bytes = readFileSync(file);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // The first record after the segment header that crosses a sector boundary, not the last.
    let offset = 8 + view.getUint32(0);
    let index = 0;
    for (;;) {
      const end = offset + 8 + view.getUint32(offset);
      if (Math.floor(offset / 512) !== Math.floor((end - 1) / 512)) {
        bytes.fill(0, Math.floor((end - 1) / 512) * 512, end);
        break;
      }
      offset = end;
      index++;
    }
    expect(index).toBeLessThan(entries.length - 1);
    writeFileSync(file, bytes);
    const opened = await reopen(path);
    expect(opened.image).toMatchObject({ damage: 'torn-tail', voter: true });
    expect(zxids(opened.image)).toEqual(entries.slice(0, index).map(({ zxid }) => zxid));
  });

  /**
   * One segment of 26 batches of 1 MiB, each durable before the next began; the segment's bytes
   * and where the first entry's record starts (after the header).
   */
  async function megabyteBatches(path: string): Promise<{ bytes: Buffer; first: number }> {
    const host = start(path, { segmentBytes: 64 * 2 ** 20 });
    for (let seq = 1; seq <= 26; seq++) {
      const entries = [{ zxid: seq, payload: new Uint8Array(2 ** 20).fill(9) }];
      host.user.write({ kind: 'Append', seq, entries });
    }
    await durableThrough(host, 26);
    await stop(host);
    const bytes = readFileSync(join(path, segmentFile(0)));
    return { bytes, first: 8 + bytes.readUInt32BE(0) };
  }

  it('takes a zeroed sector or a rotten length for damage when more data follows than one write holds', async () => {
    // A record early in the segment was not cut by the last write. Taken for a torn tail, the
    // 25 MiB of acknowledged records after it were cut off, the node still a voter.
    for (const damage of ['zeroed sector', 'rotten length'] as const) {
      const path = tempDir();
      const { bytes, first } = await megabyteBatches(path);
      if (damage === 'zeroed sector') {
        bytes.fill(0, (Math.floor(first / 512) + 2) * 512, (Math.floor(first / 512) + 3) * 512);
      } else {
        bytes[first]! ^= 0x40; // the first entry's length, past the data's end now
      }
      writeFileSync(join(path, segmentFile(0)), bytes);
      const { image, host } = await reopen(path);
      expect(image, damage).toMatchObject({ damage: 'corrupt', voter: false, log: [] });
      await stop(host);
    }
  });

  it('discards a damaged log for good: an empty non-voter that keeps its epochs', async () => {
    const path = tempDir();
    await written(path);
    const size = dataEnd(readFileSync(join(path, segmentFile(0))));
    rot(join(path, segmentFile(0)), Math.floor(size / 2));
    const opened = await reopen(path);
    expect(opened.image).toEqual(DISCARDED_WITH_EPOCHS_4_3);
    expect(segments(path)).toEqual([]);
    // The next start finds a clean store, and new appends are kept.
    opened.host.user.write(append(1, 7));
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    const again = await reopen(path);
    expect(again.image).toMatchObject({ damage: 'none', voter: false, acceptedEpoch: 4 });
    expect(zxids(again.image)).toEqual([7]);
  });

  it('treats a bad snapshot as damage, and refuses to start with damaged epochs', async () => {
    const path = tempDir();
    await writeSnapshotted(path);
    rot(join(path, 'snapshot'), 1);
    expect((await reopen(path)).image).toMatchObject({ damage: 'corrupt', snapshot: null });

    rot(join(path, 'epochs'), 1);
    expect(() => start(path)).toThrow(/epochs is damaged/);
  });

  /** Entries 1..30 appended three a batch to 40-byte segments: one segment or more each. */
  async function thirtyInSegments() {
    const path = tempDir();
    const host = start(path, { segmentBytes: 40 });
    for (let seq = 1; seq <= 10; seq++) {
      host.user.write(append(seq, seq * 3 - 2, seq * 3 - 1, seq * 3));
      await durableThrough(host, seq);
    }
    return { path, host };
  }

  async function compactThrough15(host: ReturnType<typeof start>): Promise<void> {
    host.user.write(saveSnapshot(11, 15, Uint8Array.of(1)));
    host.user.write({ kind: 'Compact', seq: 12, throughZxid: 15 });
    await durableThrough(host, 12);
  }

  /** The log runs without a hole from where it starts to 30. */
  function expectWholeThrough30(image: StoredImage): void {
    expect(zxids(image).at(-1)).toBe(30);
    expect(image.log).toEqual(
      Array.from({ length: 31 - image.log[0]!.zxid }, (_, i) => entry(image.log[0]!.zxid + i)),
    );
  }

  it('rolls over to new segments, compacts whole old ones, and reads them all back', async () => {
    const { path, host } = await thirtyInSegments();
    expect(segments(path).length).toBeGreaterThanOrEqual(5);
    await compactThrough15(host);
    await stop(host);
    const { image } = await reopen(path);
    // Segments holding only entries up to 15 are gone; the log still reaches from there to 30.
    expect(image.log[0]!.zxid).toBeGreaterThan(1);
    expect(image.log[0]!.zxid).toBeLessThanOrEqual(16);
    expectWholeThrough30(image);
  });

  it('reads a log whose compacted segments a stop left behind (deleted after the compaction, not with it)', async () => {
    const { path, host } = await thirtyInSegments();
    const before = new Map(segments(path).map((name) => [name, readFileSync(join(path, name))]));
    await compactThrough15(host);
    await stop(host);
    const deleted = [...before.keys()].filter((name) => !segments(path).includes(name)).sort();
    expect(deleted.length).toBeGreaterThanOrEqual(2);
    // A stop after the first deletions: the newer ones come back, as they were.
    for (const name of deleted.slice(1)) writeFileSync(join(path, name), before.get(name)!);
    const { image } = await reopen(path);
    expect(image.damage).toBe('none');
    expect(image.log[0]!.zxid).toBeGreaterThan(1);
    expectWholeThrough30(image);
  });

  it('retires every old segment with an installed snapshot, even those a crash left behind', async () => {
    const path = tempDir();
    const host = start(path, { segmentBytes: 60 });
    host.user.write(append(1, 1, 2, 3));
    await durableThrough(host, 1);
    host.user.write(append(2, 4, 5, 6));
    await durableThrough(host, 2);
    const before = segments(path);
    copyFileSync(join(path, before[0]!), join(path, 'kept'));
    host.user.write({
      kind: 'InstallSnapshot',
      seq: 3,
      snapshot: { zxid: 9, state: Uint8Array.of(2) },
    });
    host.user.write(append(4, 10));
    await durableThrough(host, 4);
    await stop(host);
    expect(segments(path).every((name) => !before.includes(name))).toBe(true);
    // As if the crash had come between the snapshot and deleting the old segments.
    copyFileSync(join(path, 'kept'), join(path, before[0]!));
    const { image } = await reopen(path);
    expect(image.snapshot).toEqual({ zxid: 9, state: Uint8Array.of(2) });
    expect(zxids(image)).toEqual([10]);
    expect(segments(path)).not.toContain(before[0]);
  });

  it('takes a missing segment between two others for damage', async () => {
    const path = tempDir();
    const host = start(path, { segmentBytes: 10 });
    for (let seq = 1; seq <= 3; seq++) {
      host.user.write(append(seq, seq));
      await durableThrough(host, seq);
    }
    await stop(host);
    expect(segments(path).length).toBeGreaterThanOrEqual(3);
    rmSync(join(path, segmentFile(1)));
    expect((await reopen(path)).image).toMatchObject({ damage: 'corrupt', log: [] });
  });

  it('zeroes what a torn batch left after the last whole record, so no later scan reads it', async () => {
    const path = tempDir();
    const host = start(path);
    host.user.write(append(1, 1, 2));
    await durableThrough(host, 1);
    await stop(host);
    const file = join(path, segmentFile(0));
    const bytes = readFileSync(file);
    const end = dataEnd(bytes);
    // A batch whose first page never landed but whose later bytes did: a zero header, then
    // something that looks like data.
    bytes.set(readFileSync(file).subarray(0, end), end + 64);
    writeFileSync(file, bytes);
    let opened = await reopen(path);
    expect(opened.image.damage).toBe('torn-tail');
    expect(zxids(opened.image)).toEqual([1, 2]);
    expect(dataEnd(readFileSync(file))).toBe(end);
    opened.host.user.write(append(1, 3));
    await durableThrough(opened.host, 1);
    await stop(opened.host);
    opened = await reopen(path);
    expect(opened.image.damage).toBe('none');
    expect(zxids(opened.image)).toEqual([1, 2, 3]);
  });

  it('keeps a last record whose value ends in zero bytes', async () => {
    const path = tempDir();
    const host = start(path);
    const zeros = { zxid: 1, payload: new Uint8Array(700) };
    host.user.write({ kind: 'Append', seq: 1, entries: [zeros] });
    await durableThrough(host, 1);
    await stop(host);
    const { image } = await reopen(path);
    expect(image.damage).toBe('none');
    expect(image.log).toEqual([zeros]);
  });

  it('writes a snapshot ahead of its turn but puts it in place in order, and cleans up what was staged', async () => {
    const path = tempDir();
    const host = start(path, { segmentBytes: 60 });
    host.user.write(append(1, 1, 2, 3));
    await durableThrough(host, 1);
    const retired = readFileSync(join(path, segmentFile(0)));
    // Staged at once with the base in force; the install ahead of it moves the base.
    host.user.write({
      kind: 'InstallSnapshot',
      seq: 2,
      snapshot: { zxid: 9, state: Uint8Array.of(2) },
    });
    host.user.write(append(3, 10, 11));
    host.user.write(saveSnapshot(4, 10, Uint8Array.of(4)));
    await durableThrough(host, 4);
    await stop(host);
    // A replacement a crash interrupted between its two halves, and a segment the install
    // retired that a crash kept: the snapshot's base must still retire it.
    writeFileSync(join(path, 'snapshot.99.tmp'), 'half done');
    writeFileSync(join(path, segmentFile(0)), retired);
    const { image } = await reopen(path);
    expect(image.snapshot).toEqual({ zxid: 10, state: Uint8Array.of(4) });
    expect(zxids(image)).toEqual([10, 11]);
    expect(readdirSync(path).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('reads a long log back in slices, the event loop free in between, and waits with Loads and writes until it is read', async () => {
    const path = tempDir();
    const host = start(path);
    const entries = Array.from({ length: 3_000 }, (_, i) => ({
      zxid: i + 1,
      payload: Uint8Array.of(i % 256),
    }));
    host.user.write({ kind: 'Append', seq: 1, entries });
    await durableThrough(host, 1);
    await stop(host);

    // With no time to spare per slice, every pause gives the event loop back: a callback
    // queued now runs before the scan is through.
    let scanned = false;
    let ranDuringScan = false;
    setImmediate(() => (ranDuringScan = !scanned));
    const sliced = await scanWalInSlices(path, 0);
    scanned = true;
    expect(ranDuringScan).toBe(true);
    expect(sliced).toEqual(scanWal(path));
    expect(zxids(sliced.image)).toEqual(entries.map(({ zxid }) => zxid));

    // A store started on it takes a Load and a write at once; both wait for its scan.
    const again = start(path);
    again.user.load();
    again.user.write(append(2, 3_001));
    expect(again.user.images).toHaveLength(0);
    await durableThrough(again, 2);
    expect(again.user.images).toHaveLength(1);
    expect(zxids(again.user.images[0]!).at(-1)).toBe(3_000);
    await stop(again);
    expect(zxids((await reopen(path)).image).at(-1)).toBe(3_001);
  });
  it('writes a batch of many MiB in several writes, a turn apart, and has it whole', async () => {
    const path = tempDir();
    // 10 KB entries, 1,200 of them in one Append: about 12 MiB of records (a follower's
    // backlog after a SNAP sync), which once were sealed and joined in one turn.
    const entries = Array.from({ length: 1_200 }, (_, i) => ({
      zxid: i + 1,
      payload: new Uint8Array(10_000).fill(i % 251),
    }));
    const turns = new Set<number>();
    let turn = 0;
    const ticking = setInterval(() => turn++, 0);
    let logWrites = 0;
    const host = start(path, {
      beforeFileOperation: (operation) => {
        if (operation !== 'log') return;
        logWrites++;
        turns.add(turn);
      },
    });
    host.user.write({ kind: 'Append', seq: 1, entries });
    await durableThrough(host, 1);
    clearInterval(ticking);
    expect(logWrites).toBeGreaterThanOrEqual(3);
    expect(turns.size).toBeGreaterThanOrEqual(2);
    await stop(host);
    const { log } = (await reopen(path)).image;
    // Compared as bytes: a deep equality of 1,200 typed arrays takes vitest 20 s.
    expect(log.map(({ zxid }) => zxid)).toEqual(entries.map(({ zxid }) => zxid));
    const bytes = (list: readonly { payload: Uint8Array }[]) =>
      Buffer.concat(list.map((e) => e.payload));
    expect(bytes(log).equals(bytes(entries))).toBe(true);
  });
});
