import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { recoverImage, type RawImage } from '../../components/storage/recover-image.js';
import { SimDisk, type StorageWrite } from '../../components/storage/index.js';
import { sealEntry, sealSnapshot } from '../../components/storage/stored-record.js';

const entry = (zxid: number) => ({ zxid, payload: Uint8Array.of(zxid % 256, 1, 2, 3) });
const append = (seq: number, ...zxids: number[]): StorageWrite => ({
  kind: 'Append',
  seq,
  entries: zxids.map(entry),
});
const zxidsOf = (disk: SimDisk) => disk.load().log.map((e) => e.zxid);

/** What a disk holds after the writes of `writes`, applied in order (Append and epochs only). */
function model(writes: readonly StorageWrite[]) {
  let acceptedEpoch = 0;
  const zxids: number[] = [];
  for (const write of writes) {
    if (write.kind === 'Append') zxids.push(...write.entries.map((e) => e.zxid));
    else if (write.kind === 'SetAcceptedEpoch') acceptedEpoch = write.epoch;
  }
  return { acceptedEpoch, zxids };
}

describe('SimDisk', () => {
  it('makes writes durable only at a flush, all of them in order, and names the last seq', () => {
    const disk = new SimDisk(new SeededRandom(1), true);
    disk.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 1 });
    disk.write(append(2, 1, 2));
    disk.write(append(3, 3));
    expect(disk.pendingWrites).toBe(3);
    expect(disk.durableLastZxid).toBe(0);
    expect(disk.durableEpochs.acceptedEpoch).toBe(0);
    expect(disk.flush()).toBe(3);
    expect(disk.pendingWrites).toBe(0);
    expect(disk.durableLastZxid).toBe(3);
    expect(disk.durableEpochs).toEqual({ acceptedEpoch: 1, currentEpoch: 0 });
    expect(disk.flush()).toBeUndefined();
    expect(disk.load()).toEqual({
      acceptedEpoch: 1,
      currentEpoch: 0,
      voter: true,
      snapshot: null,
      log: [entry(1), entry(2), entry(3)],
      damage: 'none',
    });
  });

  it('keeps every flushed write and at most a prefix of the rest across a crash (many seeds)', () => {
    let torn = 0;
    let keptSome = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const random = new SeededRandom(seed);
      const disk = new SimDisk(random.fork('disk'), true, 0.4);
      const written: StorageWrite[] = [];
      let flushed = 0;
      let zxid = 0;
      let epoch = 0;
      for (let round = random.int(1, 6); round > 0; round--) {
        for (let i = random.int(1, 4); i > 0; i--) {
          const seq = written.length + 1;
          const write: StorageWrite = random.chance(0.25)
            ? { kind: 'SetAcceptedEpoch', seq, epoch: ++epoch }
            : append(seq, ...Array.from({ length: random.int(1, 3) }, () => ++zxid));
          written.push(write);
          disk.write(write);
        }
        if (random.chance(0.5)) {
          expect(disk.flush()).toBe(written.length);
          flushed = written.length;
        }
      }
      disk.crash();
      const image = disk.load();
      const loaded = { acceptedEpoch: image.acceptedEpoch, zxids: image.log.map((e) => e.zxid) };
      // Some prefix of the writes, at least every flushed one, explains what is on disk; a
      // torn tail loses part of the last surviving Append and nothing else.
      const explained = Array.from({ length: written.length + 1 }, (_, kept) => kept).filter(
        (kept) => {
          const expected = model(written.slice(0, kept));
          if (image.damage === 'torn-tail') {
            if (written[kept - 1]?.kind !== 'Append') return false;
            expected.zxids.pop();
          }
          return kept >= flushed && isDeepStrictEqual(loaded, expected);
        },
      );
      expect(explained.length, `seed ${seed}`).toBeGreaterThan(0);
      expect(['none', 'torn-tail']).toContain(image.damage);
      if (image.damage === 'torn-tail') torn++;
      if (explained[0]! > flushed) keptSome++;
      expect(image.voter).toBe(true);
      // Recovery cut the torn record off for good.
      expect(disk.load()).toEqual({ ...image, damage: 'none' });
    }
    // The seeds exercise every outcome: torn tails and unflushed writes that survived.
    expect(torn).toBeGreaterThan(20);
    expect(keptSome).toBeGreaterThan(20);
  });

  it('reports a torn last record as torn-tail and drops just that entry', () => {
    let checked = 0;
    for (let seed = 1; checked < 5; seed++) {
      const disk = new SimDisk(new SeededRandom(seed), true, 1);
      disk.write(append(1, 1, 2));
      disk.flush();
      disk.write(append(2, 3, 4));
      disk.crash();
      if (disk.stats.torn === 0) continue; // the crash kept none of the unflushed write
      checked++;
      const image = disk.load();
      expect(image.damage).toBe('torn-tail');
      expect(image.log).toEqual([entry(1), entry(2), entry(3)]);
      expect(image.voter).toBe(true);
      expect(zxidsOf(disk)).toEqual([1, 2, 3]);
    }
  });

  it('lets a flush hook crash the node before the flush: the writes meet crash semantics', () => {
    const disk = new SimDisk(new SeededRandom(5), true, 0);
    disk.write(append(1, 1));
    disk.flushHook = (moment) => {
      if (moment === 'before') disk.crash();
    };
    expect(disk.flush()).toBeUndefined();
    expect(disk.pendingWrites).toBe(0);
    expect(disk.stats.flushes).toBe(0);
    expect([[], [1]]).toContainEqual(zxidsOf(disk));
  });

  it('finds rot as corrupt: an empty non-voter that keeps its epochs, and discards the damage', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new SimDisk(new SeededRandom(seed), true);
      disk.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 3 });
      disk.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 2 });
      disk.write({ kind: 'SaveSnapshot', seq: 3, snapshot: { zxid: 1, state: Uint8Array.of(9) } });
      disk.write(append(4, 1, 2, 3, 4, 5));
      disk.flush();
      expect(disk.isVoter).toBe(true);
      expect(disk.rot()).toBe(true);
      expect(disk.isVoter).toBe(false);
      expect(disk.load()).toEqual({
        acceptedEpoch: 3,
        currentEpoch: 2,
        voter: false,
        snapshot: null,
        log: [],
        damage: 'corrupt',
      });
      expect(disk.load()).toMatchObject({ damage: 'none', voter: false, log: [], snapshot: null });
      expect(disk.durableLastZxid).toBe(0);
    }
    expect(new SimDisk(new SeededRandom(1), true).rot()).toBe(false);
  });

  it('comes back from a wipe empty and not a voter', () => {
    const disk = new SimDisk(new SeededRandom(2), true);
    disk.write({ kind: 'SetCurrentEpoch', seq: 1, epoch: 4 });
    disk.write(append(2, 1));
    disk.write(append(3, 2));
    disk.flush();
    disk.write(append(4, 3));
    disk.wipe();
    expect(disk.pendingWrites).toBe(0);
    expect(disk.isVoter).toBe(false);
    expect(disk.load()).toEqual({
      acceptedEpoch: 0,
      currentEpoch: 0,
      voter: false,
      snapshot: null,
      log: [],
      damage: 'none',
    });
  });

  it('makes a non-voter a voter with a durable SetCurrentEpoch, not with SetAcceptedEpoch', () => {
    const disk = new SimDisk(new SeededRandom(3), false);
    expect(disk.load().voter).toBe(false);
    disk.write({ kind: 'SetAcceptedEpoch', seq: 1, epoch: 1 });
    disk.flush();
    expect(disk.load().voter).toBe(false);
    disk.write({ kind: 'SetCurrentEpoch', seq: 2, epoch: 1 });
    expect(disk.isVoter).toBe(false); // not durable yet
    disk.flush();
    expect(disk.isVoter).toBe(true);
    expect(disk.load()).toMatchObject({ voter: true, acceptedEpoch: 1, currentEpoch: 1 });
  });

  it('truncates, compacts, saves and installs snapshots', () => {
    const disk = new SimDisk(new SeededRandom(4), true);
    disk.write(append(1, 1, 2, 3, 4, 5));
    disk.write({ kind: 'Truncate', seq: 2, afterZxid: 3 }); // sees the Append of its batch
    disk.flush();
    expect(zxidsOf(disk)).toEqual([1, 2, 3]);

    disk.write({ kind: 'SaveSnapshot', seq: 3, snapshot: { zxid: 2, state: Uint8Array.of(9) } });
    disk.flush();
    expect(zxidsOf(disk)).toEqual([1, 2, 3]); // a saved snapshot leaves the log alone
    disk.write({ kind: 'Compact', seq: 4, throughZxid: 2 });
    disk.flush();
    expect(disk.load()).toMatchObject({ snapshot: { zxid: 2, state: Uint8Array.of(9) } });
    expect(zxidsOf(disk)).toEqual([3]);

    disk.write(append(5, 4));
    disk.write({
      kind: 'InstallSnapshot',
      seq: 6,
      snapshot: { zxid: 10, state: Uint8Array.of(8) },
    });
    expect(disk.durableLastZxid).toBe(3);
    disk.flush();
    expect(disk.durableLastZxid).toBe(10); // the snapshot covers what the log lost
    expect(zxidsOf(disk)).toEqual([]);
    disk.write(append(7, 11, 12));
    disk.write({ kind: 'Truncate', seq: 8, afterZxid: 0 });
    disk.write(append(9, 11));
    disk.flush();
    expect(disk.load()).toMatchObject({ snapshot: { zxid: 10 }, log: [entry(11)] });
  });
});

describe('recoverImage', () => {
  const raw = (log: Uint8Array[], snapshot: Uint8Array | null = null): RawImage => ({
    acceptedEpoch: 5,
    currentEpoch: 4,
    voter: true,
    snapshot,
    log,
  });
  const corrupt = {
    acceptedEpoch: 5,
    currentEpoch: 4,
    voter: false,
    snapshot: null,
    log: [],
    damage: 'corrupt',
  };
  const sealed = [1, 2, 3].map((zxid) => sealEntry(entry(zxid)));
  const short = (record: Uint8Array) => record.subarray(0, record.length - 1);
  const flipped = (record: Uint8Array) => {
    const copy = Uint8Array.from(record);
    copy[copy.length - 1]! ^= 1;
    return copy;
  };

  it('passes a sound image through', () => {
    const snapshot = sealSnapshot({ zxid: 1, state: Uint8Array.of(7) });
    expect(recoverImage(raw(sealed, snapshot))).toEqual({
      acceptedEpoch: 5,
      currentEpoch: 4,
      voter: true,
      snapshot: { zxid: 1, state: Uint8Array.of(7) },
      log: [entry(1), entry(2), entry(3)],
      damage: 'none',
    });
  });

  it('drops a short last record as a torn tail, unless the store writes atomically', () => {
    const log = [sealed[0]!, sealed[1]!, short(sealed[2]!)];
    expect(recoverImage(raw(log))).toMatchObject({
      voter: true,
      log: [entry(1), entry(2)],
      damage: 'torn-tail',
    });
    expect(recoverImage(raw(log), false)).toEqual(corrupt);
    expect(recoverImage(raw([Uint8Array.of(0, 0)])).damage).toBe('torn-tail');
  });

  it.each([
    ['a short record in the middle', [sealed[0]!, short(sealed[1]!), sealed[2]!]],
    ['a bad checksum in the middle', [sealed[0]!, flipped(sealed[1]!), sealed[2]!]],
    ['a bad checksum at the end', [sealed[0]!, sealed[1]!, flipped(sealed[2]!)]],
    ['entries out of order', [sealed[0]!, sealed[2]!, sealed[1]!]],
    ['a repeated entry', [sealed[0]!, sealed[0]!]],
  ])('reports %s as corrupt, keeping the epochs', (_name, log) => {
    expect(recoverImage(raw(log))).toEqual(corrupt);
  });

  it('reports a damaged snapshot as corrupt', () => {
    const snapshot = flipped(sealSnapshot({ zxid: 1, state: Uint8Array.of(7) }));
    expect(recoverImage(raw(sealed, snapshot))).toEqual(corrupt);
    expect(recoverImage(raw(sealed, short(snapshot)))).toEqual(corrupt);
  });
});
