import { describe, expect, it } from 'vitest';
import { ZxidRecords } from '../../kv/zxid-records.js';

function filled(bytes: number, fill: number): Uint8Array {
  return new Uint8Array(bytes).fill(fill);
}

function zxidsAfter(records: ZxidRecords, after: number): number[] {
  const zxids: number[] = [];
  records.forEachAfter(after, ({ zxid }) => {
    zxids.push(zxid);
    return true;
  });
  return zxids;
}

describe('ZxidRecords', () => {
  it('finds the record at or before any zxid across chunks, with its tally', () => {
    const records = new ZxidRecords();
    // 300 KB records in chunks that double from 16 KiB to 1 MiB: [10] [20, 30] [40, 50, 60]
    // [70, 80, 90] [100].
    for (let i = 1; i <= 10; i++) records.appendCopy(10 * i, filled(300_000, i), 100 + i);
    expect(records.atOrBefore(5)).toBeUndefined();
    for (const [zxid, found] of [
      [10, 10],
      [39, 30],
      [40, 40],
      [41, 40],
      [1000, 100],
    ] as const) {
      const record = records.atOrBefore(zxid)!;
      expect([record.zxid, record.tally, record.bytes.length]).toEqual([
        found,
        100 + found / 10,
        300_000,
      ]);
      expect(record.bytes.every((b) => b === found / 10)).toBe(true);
    }
    expect(zxidsAfter(records, 35)).toEqual([40, 50, 60, 70, 80, 90, 100]);
    const back: number[] = [];
    records.forEachBackFrom(75, (zxid, size, tally) => {
      back.push(zxid);
      expect([size, tally]).toEqual([300_000, 100 + zxid / 10]);
      return zxid > 30;
    });
    expect(back).toEqual([70, 60, 50, 40, 30]);
    const sizes: [number, number][] = [];
    records.forEachSizeAfter(75, (zxid, size) => sizes.push([zxid, size]) < 2);
    expect(sizes).toEqual([
      [80, 300_000],
      [90, 300_000],
    ]);
    records.dropOldest();
    records.dropOldest();
    records.dropOldest();
    expect(records.atOrBefore(35)).toBeUndefined();
    expect(records.oldestZxid()).toBe(40);
    expect(records.length).toBe(7);
    // 40 dropped too: the chunk [40, 50, 60] is held from its second record on.
    records.dropOldest();
    expect(records.atOrBefore(45)).toBeUndefined();
    expect(records.keyAtOrBefore(55)).toEqual({ zxid: 50, tally: 105 });
    expect(zxidsAfter(records, 0)).toEqual([50, 60, 70, 80, 90, 100]);
    const all: number[] = [];
    records.forEachBackFrom(Infinity, (zxid) => all.push(zxid) > 0);
    expect(all).toEqual([100, 90, 80, 70, 60, 50]);
    const forward: number[] = [];
    records.forEachSizeAfter(-Infinity, (zxid) => forward.push(zxid) > 0);
    expect(forward).toEqual([50, 60, 70, 80, 90, 100]);
  });

  it('holds nothing when empty or cleared', () => {
    const records = new ZxidRecords();
    expect([records.oldestZxid(), records.newestZxid(), records.newestTally()]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    records.appendCopy(3, filled(4, 3), 1);
    records.clear();
    expect(records.length).toBe(0);
    expect(records.atOrBefore(10)).toBeUndefined();
    expect(zxidsAfter(records, 0)).toEqual([]);
    records.forEachBackFrom(10, () => expect.unreachable());
    records.appendCopy(1, filled(4, 1), 1);
    expect(zxidsAfter(records, 0)).toEqual([1]);
  });

  it('takes records of no bytes, more than one chunk holds (65,536)', () => {
    const records = new ZxidRecords();
    for (let zxid = 1; zxid <= 70_000; zxid++) records.appendCopy(zxid, filled(0, 0), zxid);
    for (let i = 0; i < 65_536; i++) records.dropOldest();
    expect([records.length, records.oldestZxid()]).toEqual([70_000 - 65_536, 65_537]);
    expect(records.keyAtOrBefore(65_536)).toBeUndefined();
    expect(records.atOrBefore(69_999)).toMatchObject({ zxid: 69_999, tally: 69_999 });
    expect(records.atOrBefore(69_999)!.bytes.length).toBe(0);
  });

  it('never writes a byte twice: a view handed out stays what it was after dropNewest and more appends', () => {
    const records = new ZxidRecords();
    records.appendCopy(1, filled(10, 1), 0);
    records.appendCopy(2, filled(10, 2), 0);
    const view = records.atOrBefore(2)!.bytes;
    records.dropNewest();
    records.appendCopy(3, filled(10, 3), 0);
    expect(view.every((b) => b === 2)).toBe(true);
    expect(zxidsAfter(records, 0)).toEqual([1, 3]);
    expect(records.atOrBefore(2)!.zxid).toBe(1);
    expect(records.atOrBefore(3)!.bytes.every((b) => b === 3)).toBe(true);
  });

  it('refuses a record out of zxid order and one written at another size than it said', () => {
    const records = new ZxidRecords();
    records.appendCopy(5, filled(1, 0), 0);
    expect(() => records.appendCopy(5, filled(1, 0), 0)).toThrow(/zxid order/);
    expect(() => records.append(6, 4, 0, (_bytes, at) => at + 3)).toThrow(/size it said/);
    expect(records.length).toBe(1);
  });
});
