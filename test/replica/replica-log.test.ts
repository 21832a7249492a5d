import { AssertionError } from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import type { StoredEntry, StoredImage } from '../../components/storage/index.js';
import { RETAINED_LOG_BYTES } from '../../components/limits.js';
import { compactionPoint, historyAfterLoad } from '../../replica/log-retention.js';
import { ReplicaLog } from '../../replica/replica-log.js';
import { makeZxid } from '../../kv/zxid.js';

const z = makeZxid;

function entry(zxid: number): StoredEntry {
  return { zxid, payload: new TextEncoder().encode(`p${zxid}`) };
}

/** Entries (epoch, from)..(epoch, to). */
function run(epoch: number, from: number, to: number): StoredEntry[] {
  const out: StoredEntry[] = [];
  for (let c = from; c <= to; c++) out.push(entry(z(epoch, c)));
  return out;
}

const zxids = (entries: readonly StoredEntry[]): number[] => entries.map((e) => e.zxid);

/** base 0, (1,1)..(1,3), (2,1)..(2,2), (4,1)..(4,3) */
function sample(): ReplicaLog {
  return new ReplicaLog(0, [...run(1, 1, 3), ...run(2, 1, 2), ...run(4, 1, 3)]);
}

describe('ReplicaLog construction', () => {
  it('rejects entries out of order', () => {
    expect(() => new ReplicaLog(0, [entry(z(1, 2)), entry(z(1, 1))])).toThrow(AssertionError);
    expect(() => new ReplicaLog(0, [entry(z(1, 1)), entry(z(1, 1))])).toThrow(AssertionError);
  });

  it('copies the entries it is given', () => {
    const entries = run(1, 1, 2);
    const log = new ReplicaLog(0, entries);
    entries.push(entry(z(1, 3)));
    expect(log.length).toBe(2);
  });
});

describe('ReplicaLog.append', () => {
  it('accepts contiguous entries, across epochs', () => {
    const log = new ReplicaLog(0, []);
    log.append(run(1, 1, 3));
    log.append([entry(z(2, 1))]);
    log.append([entry(z(5, 1)), entry(z(5, 2))]);
    expect(zxids(log.after(0))).toEqual([z(1, 1), z(1, 2), z(1, 3), z(2, 1), z(5, 1), z(5, 2)]);
  });

  it('throws on a gap within an epoch', () => {
    const log = new ReplicaLog(0, run(1, 1, 3));
    expect(() => log.append([entry(z(1, 5))])).toThrow(AssertionError);
    expect(log.last).toBe(z(1, 3));
    expect(log.length).toBe(3);
  });

  it('throws on a new epoch not starting at counter 1', () => {
    const log = new ReplicaLog(0, run(1, 1, 3));
    expect(() => log.append([entry(z(2, 2))])).toThrow(AssertionError);
    expect(() => log.append([entry(z(2, 0))])).toThrow(AssertionError);
    expect(log.last).toBe(z(1, 3));
  });

  it('throws on a repeated or older zxid', () => {
    const log = new ReplicaLog(0, [...run(1, 1, 3), entry(z(2, 1))]);
    expect(() => log.append([entry(z(2, 1))])).toThrow(AssertionError);
    expect(() => log.append([entry(z(1, 4))])).toThrow(AssertionError);
    expect(log.length).toBe(4);
  });

  it('checks the first entry against a base of 0 and against a snapshot base', () => {
    expect(() => new ReplicaLog(0, []).append([entry(z(1, 2))])).toThrow(AssertionError);
    const snapped = new ReplicaLog(z(3, 7), []);
    expect(() => snapped.append([entry(z(3, 9))])).toThrow(AssertionError);
    snapped.append([entry(z(3, 8))]);
    expect(snapped.last).toBe(z(3, 8));
  });

  it('checks a gap inside one batch', () => {
    const log = new ReplicaLog(0, []);
    expect(() => log.append([entry(z(1, 1)), entry(z(1, 3))])).toThrow(AssertionError);
  });

  it('with an unknown base, accepts any positive first zxid but not 0', () => {
    const log = new ReplicaLog(null, []);
    expect(() => log.append([entry(0)])).toThrow(AssertionError);
    log.append([entry(z(3, 17))]);
    expect(log.first).toBe(z(3, 17));
    expect(() => log.append([entry(z(3, 19))])).toThrow(AssertionError);
    log.append([entry(z(3, 18))]);
    expect(log.last).toBe(z(3, 18));
  });
});

describe('ReplicaLog queries', () => {
  it('last and first', () => {
    expect(new ReplicaLog(null, []).last).toBe(0);
    expect(new ReplicaLog(0, []).last).toBe(0);
    expect(new ReplicaLog(z(2, 5), []).last).toBe(z(2, 5));
    expect(new ReplicaLog(z(2, 5), []).first).toBeUndefined();
    const log = sample();
    expect(log.last).toBe(z(4, 3));
    expect(log.first).toBe(z(1, 1));
    expect(log.length).toBe(8);
    expect(log.base).toBe(0);
  });

  it('contains the base and every entry, nothing else', () => {
    const log = sample();
    for (const zxid of [0, z(1, 1), z(1, 3), z(2, 1), z(2, 2), z(4, 1), z(4, 3)]) {
      expect(log.contains(zxid), `contains ${zxid}`).toBe(true);
    }
    for (const zxid of [z(1, 0), z(1, 4), z(2, 3), z(3, 1), z(4, 0), z(4, 4), z(5, 1)]) {
      expect(log.contains(zxid), `contains ${zxid}`).toBe(false);
    }
    const snapped = new ReplicaLog(z(3, 7), run(3, 8, 9));
    expect(snapped.contains(z(3, 7))).toBe(true);
    expect(snapped.contains(z(3, 6))).toBe(false);
    expect(snapped.contains(0)).toBe(false);
    expect(new ReplicaLog(null, []).contains(0)).toBe(false);
  });

  it('entry returns the stored entry or undefined', () => {
    const log = sample();
    expect(new TextDecoder().decode(log.entry(z(2, 2))?.payload)).toBe(`p${z(2, 2)}`);
    expect(log.entry(z(2, 2))?.zxid).toBe(z(2, 2));
    expect(log.entry(z(2, 3))).toBeUndefined();
    expect(log.entry(0)).toBeUndefined(); // the base is not an entry
  });

  it('after returns the entries strictly above, also for zxids not in the log', () => {
    const log = sample();
    expect(zxids(log.after(0))).toHaveLength(8);
    expect(zxids(log.after(z(1, 3)))).toEqual([z(2, 1), z(2, 2), z(4, 1), z(4, 2), z(4, 3)]);
    expect(zxids(log.after(z(1, 9)))).toEqual([z(2, 1), z(2, 2), z(4, 1), z(4, 2), z(4, 3)]);
    expect(zxids(log.after(z(3, 5)))).toEqual([z(4, 1), z(4, 2), z(4, 3)]);
    expect(zxids(log.after(z(4, 3)))).toEqual([]);
    expect(zxids(log.after(z(9, 9)))).toEqual([]);
  });

  it('between returns the entries in (from, to]', () => {
    const log = sample();
    expect(zxids(log.between(z(1, 1), z(2, 1)))).toEqual([z(1, 2), z(1, 3), z(2, 1)]);
    expect(zxids(log.between(0, z(1, 2)))).toEqual([z(1, 1), z(1, 2)]);
    expect(zxids(log.between(z(2, 2), z(3, 9)))).toEqual([]);
    expect(zxids(log.between(z(2, 2), z(4, 1)))).toEqual([z(4, 1)]);
    expect(zxids(log.between(z(1, 2), z(1, 2)))).toEqual([]);
    expect(zxids(log.between(z(4, 2), z(9, 9)))).toEqual([z(4, 3)]);
  });
});

describe('ReplicaLog changes', () => {
  it('truncateAfter drops entries above the zxid and keeps the base', () => {
    const log = sample();
    log.truncateAfter(z(2, 1));
    expect(log.last).toBe(z(2, 1));
    expect(zxids(log.after(0))).toEqual([z(1, 1), z(1, 2), z(1, 3), z(2, 1)]);
    log.truncateAfter(z(1, 9)); // not an entry: keeps what is at or below
    expect(log.last).toBe(z(1, 3));
    log.truncateAfter(z(1, 3)); // no-op
    expect(log.length).toBe(3);
    log.truncateAfter(0);
    expect(log.length).toBe(0);
    expect(log.last).toBe(0);
    expect(log.base).toBe(0);
    // The history can grow again from the truncation point.
    log.append([entry(z(5, 1))]);
    expect(log.last).toBe(z(5, 1));
  });

  it('truncateAfter then append continues from the new last zxid', () => {
    const log = sample();
    log.truncateAfter(z(1, 2));
    expect(() => log.append([entry(z(2, 1))])).not.toThrow();
    expect(zxids(log.after(0))).toEqual([z(1, 1), z(1, 2), z(2, 1)]);
  });

  it('compactThrough drops entries at or below and sets the base', () => {
    const log = sample();
    log.compactThrough(z(2, 1));
    expect(log.base).toBe(z(2, 1));
    expect(log.first).toBe(z(2, 2));
    expect(log.length).toBe(4);
    expect(log.contains(z(2, 1))).toBe(true);
    expect(log.contains(z(1, 3))).toBe(false);
    expect(log.contains(0)).toBe(false);
    expect(log.last).toBe(z(4, 3));
  });

  it('compactThrough a zxid between entries sets the base to the last entry dropped', () => {
    const log = sample();
    log.compactThrough(z(3, 5));
    expect(log.base).toBe(z(2, 2));
    expect(log.first).toBe(z(4, 1));
  });

  it('compactThrough below the first entry changes nothing', () => {
    const log = new ReplicaLog(z(1, 4), run(1, 5, 7));
    log.compactThrough(z(1, 4));
    expect(log.base).toBe(z(1, 4));
    expect(log.length).toBe(3);
    log.compactThrough(z(1, 2));
    expect(log.base).toBe(z(1, 4));
  });

  it('compactThrough everything leaves the last entry as base and last', () => {
    const log = sample();
    log.compactThrough(z(9, 9));
    expect(log.length).toBe(0);
    expect(log.base).toBe(z(4, 3));
    expect(log.last).toBe(z(4, 3));
    log.append([entry(z(4, 4))]);
    expect(log.last).toBe(z(4, 4));
  });

  it('resetTo replaces the history by a snapshot point', () => {
    const log = sample();
    log.resetTo(z(7, 3));
    expect(log.length).toBe(0);
    expect(log.base).toBe(z(7, 3));
    expect(log.last).toBe(z(7, 3));
    expect(log.contains(z(7, 3))).toBe(true);
    expect(log.contains(z(1, 1))).toBe(false);
    expect(() => log.append([entry(z(7, 5))])).toThrow(AssertionError);
    log.append([entry(z(7, 4))]);
    expect(log.last).toBe(z(7, 4));
  });
});

describe('ReplicaLog epochs', () => {
  it('epochEnds lists the last zxid of each epoch, ascending', () => {
    expect(sample().epochEnds()).toEqual([z(1, 3), z(2, 2), z(4, 3)]);
    expect(new ReplicaLog(0, []).epochEnds()).toEqual([]);
    expect(new ReplicaLog(null, []).epochEnds()).toEqual([]);
    expect(new ReplicaLog(null, run(3, 4, 6)).epochEnds()).toEqual([z(3, 6)]);
  });

  it('epochEnds counts a base in its own epoch', () => {
    expect(new ReplicaLog(z(3, 7), []).epochEnds()).toEqual([z(3, 7)]);
    expect(new ReplicaLog(z(3, 7), run(4, 1, 2)).epochEnds()).toEqual([z(3, 7), z(4, 2)]);
    // A base in the same epoch as the entries is superseded by their last.
    expect(new ReplicaLog(z(3, 7), [...run(3, 8, 9), entry(z(4, 1))]).epochEnds()).toEqual([
      z(3, 9),
      z(4, 1),
    ]);
  });

  it('epochEnds follows truncation and compaction', () => {
    const log = sample();
    log.truncateAfter(z(2, 1));
    expect(log.epochEnds()).toEqual([z(1, 3), z(2, 1)]);
    log.compactThrough(z(1, 3));
    expect(log.epochEnds()).toEqual([z(1, 3), z(2, 1)]);
    log.compactThrough(z(2, 1));
    expect(log.epochEnds()).toEqual([z(2, 1)]);
  });

  it('lastInEpoch finds the last zxid of an epoch, or undefined', () => {
    const log = sample();
    expect(log.lastInEpoch(1)).toBe(z(1, 3));
    expect(log.lastInEpoch(2)).toBe(z(2, 2));
    expect(log.lastInEpoch(3)).toBeUndefined();
    expect(log.lastInEpoch(4)).toBe(z(4, 3));
    expect(log.lastInEpoch(5)).toBeUndefined();
    // A base of 0 is the start of history, the point 0 of epoch 0.
    expect(log.lastInEpoch(0)).toBe(0);
    expect(new ReplicaLog(null, run(1, 1, 2)).lastInEpoch(0)).toBeUndefined();
  });

  it('lastInEpoch knows the base epoch', () => {
    const onlyBase = new ReplicaLog(z(3, 7), run(5, 1, 2));
    expect(onlyBase.lastInEpoch(3)).toBe(z(3, 7));
    expect(onlyBase.lastInEpoch(5)).toBe(z(5, 2));
    expect(onlyBase.lastInEpoch(4)).toBeUndefined();
    expect(onlyBase.lastInEpoch(2)).toBeUndefined();
    const sameEpoch = new ReplicaLog(z(3, 7), run(3, 8, 9));
    expect(sameEpoch.lastInEpoch(3)).toBe(z(3, 9));
    expect(new ReplicaLog(z(3, 7), []).lastInEpoch(3)).toBe(z(3, 7));
  });

  it('sliceEnd ends a slice at the entry or byte bound, takes one large entry alone, and stays put at the end', () => {
    const sized = (counter: number, bytes: number) => ({
      zxid: z(1, counter),
      payload: new Uint8Array(bytes),
    });
    const log = new ReplicaLog(z(1, 0), [
      sized(1, 10),
      sized(2, 10),
      sized(3, 10),
      sized(4, 100),
      sized(5, 10),
    ]);
    expect(log.sliceEnd(z(1, 0), 2, 1_000)).toBe(z(1, 2));
    expect(log.sliceEnd(z(1, 0), 10, 30)).toBe(z(1, 3));
    expect(log.sliceEnd(z(1, 3), 10, 30)).toBe(z(1, 4)); // larger than the bound: alone
    expect(log.sliceEnd(z(1, 4), 10, 1_000)).toBe(z(1, 5));
    expect(log.sliceEnd(z(1, 5), 10, 1_000)).toBe(z(1, 5));
  });
});

describe('ReplicaLog.bytesAfter', () => {
  /** What bytesAfter must say, counted the slow way. */
  const counted = (log: ReplicaLog, zxid: number): number =>
    log.after(zxid).reduce((sum, e) => sum + e.payload.byteLength, 0);

  it('is the payload bytes after a point, through appends, truncation, compaction and reset', () => {
    const log = sample();
    const points = (): number[] => [log.base ?? 0, ...zxids(log.after(0))];
    const check = (): void => {
      for (const zxid of points()) expect(log.bytesAfter(zxid)).toBe(counted(log, zxid));
    };
    check();
    log.append([{ zxid: z(4, 4), payload: new Uint8Array(1_000) }]);
    check();
    log.truncateAfter(z(2, 2));
    check();
    log.append(run(5, 1, 3));
    check();
    log.compactThrough(z(2, 1));
    check();
    expect(log.bytesAfter(log.base!)).toBe(counted(log, log.base!));
    log.compactThrough(log.last);
    expect(log.bytesAfter(log.last)).toBe(0);
    log.append(run(5, 4, 6));
    check();
    log.resetTo(z(7, 9));
    expect(log.bytesAfter(z(7, 9))).toBe(0);
    log.append(run(8, 1, 2));
    check();
    expect(log.bytesAfter(z(7, 9))).toBe(counted(log, z(7, 9)));
  });
});

describe('ReplicaLog storage', () => {
  /** 200 KB entries, each filled with its counter: a few span every chunk size the log uses. */
  const big = (epoch: number, from: number, to: number): StoredEntry[] =>
    run(epoch, from, to).map(({ zxid }) => ({
      zxid,
      payload: new Uint8Array(200_000).fill(zxid % 256),
    }));
  const holds = (e: StoredEntry): boolean => e.payload.every((b) => b === e.zxid % 256);

  it('gives back each payload whole across chunks, and keeps its own copy of what it was given', () => {
    const entries = big(1, 1, 30);
    const log = new ReplicaLog(0, entries.slice(0, 10));
    log.append(entries.slice(10));
    for (const e of entries) e.payload.fill(0xee);
    const back = log.after(0);
    expect(zxids(back)).toEqual(zxids(entries));
    expect(back.every(holds)).toBe(true);
    expect(holds(log.entry(z(1, 17))!)).toBe(true);
    expect(log.bytesAfter(z(1, 20))).toBe(10 * 200_000);
  });

  it('never changes a payload it handed out: after truncation and new appends, or a reset', () => {
    const log = new ReplicaLog(0, big(1, 1, 8));
    const handedOut = log.between(z(1, 4), z(1, 8));
    log.truncateAfter(z(1, 4));
    log.append(big(2, 1, 8).map((e) => ({ zxid: e.zxid, payload: e.payload.fill(0x77) })));
    log.resetTo(z(3, 1));
    log.append(big(3, 2, 4));
    expect(handedOut.every(holds)).toBe(true);
    expect(zxids(log.after(0))).toEqual(zxids(run(3, 2, 4)));
  });

  it('sliceEnd of no entries stays put', () => {
    expect(sample().sliceEnd(z(1, 1), 0, 1 << 20)).toBe(z(1, 1));
  });
});

describe('compactionPoint', () => {
  const entries = (count: number, bytes: number): StoredEntry[] =>
    run(1, 1, count).map(({ zxid }) => ({ zxid, payload: new Uint8Array(bytes) }));

  it('keeps the last retainEntries entries behind the point, compacting what is before them', () => {
    const log = new ReplicaLog(0, entries(10, 10));
    expect(compactionPoint(log, z(1, 8), 3, [])).toBe(z(1, 5));
    expect(compactionPoint(log, z(1, 8), 7, [])).toBe(z(1, 1));
    expect(compactionPoint(log, z(1, 8), 8, [])).toBeNull();
    expect(compactionPoint(log, z(1, 8), 0, [])).toBe(z(1, 8));
  });

  it('keeps no more than RETAINED_LOG_BYTES behind the point, however many entries that is', () => {
    // Five entries just over a quarter of the bound each (one buffer, copied by the log): the
    // last three fit, the fourth would take it over.
    const payload = new Uint8Array(RETAINED_LOG_BYTES / 4 + 1);
    const log = new ReplicaLog(
      0,
      run(1, 1, 5).map(({ zxid }) => ({ zxid, payload })),
    );
    expect(compactionPoint(log, z(1, 5), 1_000, [])).toBe(z(1, 2));
  });

  it('compacts nothing a pin still needs', () => {
    const log = new ReplicaLog(0, entries(10, 10));
    expect(compactionPoint(log, z(1, 10), 2, [{ zxid: z(1, 3) }, { zxid: z(1, 6) }])).toBe(z(1, 3));
    // A pin at a point the log no longer holds (the base): nothing to compact.
    log.compactThrough(z(1, 2));
    expect(compactionPoint(log, z(1, 10), 2, [{ zxid: z(1, 1) }])).toBeNull();
  });
});

describe('historyAfterLoad', () => {
  const image = (log: StoredEntry[], snapshotZxid: number | null): StoredImage => ({
    acceptedEpoch: 1,
    currentEpoch: 1,
    voter: true,
    snapshot: snapshotZxid === null ? null : { zxid: snapshotZxid, state: new Uint8Array(0) },
    log,
    damage: 'none',
  });
  const shape = (log: ReplicaLog | null) =>
    log === null ? null : { base: log.base, first: log.first, last: log.last, length: log.length };

  it('holds only the DIFF margin behind the floor and all after it, as compacting the whole would', () => {
    // A checkpoint interval's log on disk, a state applied part way, every floor and margin.
    const log = run(1, 1, 40);
    for (const snapshotZxid of [null, 0]) {
      for (const applied of [z(1, 10), z(1, 30), z(1, 40)]) {
        for (const floor of [z(1, 5), applied]) {
          for (const retain of [0, 3, 12, 100]) {
            const whole = new ReplicaLog(snapshotZxid === null ? 0 : null, log);
            const through = compactionPoint(whole, floor, retain, []);
            if (through !== null) whole.compactThrough(through);
            const loaded = historyAfterLoad(image(log, snapshotZxid), applied, floor, retain);
            expect(shape(loaded)).toEqual(shape(whole));
          }
        }
      }
    }
    expect(historyAfterLoad(image(log, null), z(1, 30), z(1, 30), 3)?.length).toBe(13);
  });

  it('keeps a log that starts right after its marker whole, and refuses one that does not fit the state', () => {
    const log = run(1, 11, 20);
    expect(shape(historyAfterLoad(image(log, z(1, 10)), z(1, 10), z(1, 10), 2))).toEqual({
      base: z(1, 10),
      first: z(1, 11),
      last: z(1, 20),
      length: 10,
    });
    // The log starts after more than the state holds, or past it without the state's zxid.
    expect(historyAfterLoad(image(log, z(1, 10)), z(1, 8), z(1, 8), 2)).toBeNull();
    const holey = [...run(1, 1, 4), ...run(1, 6, 9)];
    expect(historyAfterLoad(image(holey, null), z(1, 5), z(1, 5), 2)).toBeNull();
    // A log that ends before the state restarts after it.
    expect(shape(historyAfterLoad(image(log, z(1, 10)), z(1, 30), z(1, 30), 2))).toEqual({
      base: z(1, 30),
      first: undefined,
      last: z(1, 30),
      length: 0,
    });
  });
});
