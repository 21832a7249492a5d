import { describe, expect, it } from 'vitest';
import type { EntryChanges } from '../../replica/applied-changes-port.js';
import { ChangeHistory, type HistoryRead } from '../../watch/change-history.js';
import {
  WATCH_VALUE_MAX_BYTES,
  type WatchEvent,
  type WatchFilter,
} from '../../watch/watch-port.js';

const ALL: WatchFilter = { prefixes: [''], keys: [] };
const BIG = { maxEntries: 1_000, maxBytes: 1 << 30 };
/** What one change costs the history beyond its key and value (change-history.ts). */
const OVERHEAD = 64;

function put(zxid: number, key: string, value = `v${zxid}`): EntryChanges {
  return { zxid, txn: false, changes: [{ key, value: Buffer.from(value) }] };
}

function del(zxid: number, key: string): EntryChanges {
  return { zxid, txn: false, changes: [{ key, value: undefined }] };
}

function txn(zxid: number, ...changes: [string, string | undefined][]): EntryChanges {
  return {
    zxid,
    txn: true,
    changes: changes.map(([key, value]) => ({
      key,
      value: value === undefined ? undefined : Buffer.from(value),
    })),
  };
}

/** An event as text: `zxid type key=value -key …`. */
function show(event: WatchEvent): string {
  const changes = event.changes.map((c) =>
    c.type === 'delete'
      ? `-${c.key}`
      : `${c.key}=${c.valueOmitted === true ? '<omitted>' : Buffer.from(c.value!).toString()}`,
  );
  return `${event.zxid} ${event.type} ${changes.join(' ')}`;
}

function events(read: HistoryRead): { events: string[]; cursor: number } {
  if (typeof read === 'string') throw new Error(`expected events, got ${read}`);
  return { events: read.events.map(show), cursor: read.cursor };
}

function filter(prefixes: string[], keys: string[] = []): WatchFilter {
  return { prefixes, keys };
}

/** A history at 10 holding 11..16 (16 a txn over three keys), applied through 18. */
function sample(): ChangeHistory {
  const history = new ChangeHistory(3, 10, BIG);
  history.append(
    [
      put(11, 'a/1'),
      put(12, 'b/1'),
      del(13, 'a/2'),
      put(14, 'a/1', 'again'),
      put(15, 'c'),
      txn(16, ['a/3', 'x'], ['b/2', 'y'], ['a/1', undefined]),
    ],
    18,
  );
  return history;
}

describe('ChangeHistory reads', () => {
  const cases: [string, WatchFilter, string[]][] = [
    [
      'the empty prefix: everything',
      ALL,
      [
        '11 put a/1=v11',
        '12 put b/1=v12',
        '13 delete -a/2',
        '14 put a/1=again',
        '15 put c=v15',
        '16 txn a/3=x b/2=y -a/1',
      ],
    ],
    [
      'a prefix',
      filter(['a/']),
      ['11 put a/1=v11', '13 delete -a/2', '14 put a/1=again', '16 txn a/3=x -a/1'],
    ],
    ['a key', filter([], ['a/1']), ['11 put a/1=v11', '14 put a/1=again', '16 txn -a/1']],
    [
      'a key and a prefix',
      filter(['b'], ['c']),
      ['12 put b/1=v12', '15 put c=v15', '16 txn b/2=y'],
    ],
    ['a key equal to nothing held', filter([], ['a']), []],
    ['a prefix nothing has', filter(['z']), []],
  ];
  for (const [what, f, want] of cases) {
    it(`serves whole entries, cut down to the matching changes: ${what}`, () => {
      expect(events(sample().read(10, f, 1 << 20, 10_000))).toEqual({ events: want, cursor: 18 });
    });
  }

  it('serves exactly what comes after the cursor, through the applied zxid', () => {
    const history = sample();
    expect(
      events(history.read(13, ALL, 1 << 20, 10_000)).events.map((e) => e.split(' ')[0]),
    ).toEqual(['14', '15', '16']);
    expect(events(history.read(16, ALL, 1 << 20, 10_000))).toEqual({ events: [], cursor: 18 });
    expect(events(history.read(18, ALL, 1 << 20, 10_000))).toEqual({ events: [], cursor: 18 });
    // A cursor between held zxids (an entry that changed nothing, or another filter's cursor).
    expect(events(history.read(17, ALL, 1 << 20, 10_000))).toEqual({ events: [], cursor: 18 });
  });

  it('says compacted below its floor and behind above its applied zxid, and serves the floor exactly', () => {
    const history = sample();
    expect(history.floor).toBe(10);
    expect(history.applied).toBe(18);
    expect(history.read(9, ALL, 1 << 20, 10_000)).toBe('compacted');
    expect(history.read(0, ALL, 1 << 20, 10_000)).toBe('compacted');
    expect(history.read(19, ALL, 1 << 20, 10_000)).toBe('behind');
    expect(events(history.read(10, ALL, 1 << 20, 10_000)).events).toHaveLength(6);
  });

  it('keeps the type of a single-change entry, and calls a mixed or transaction entry txn', () => {
    const history = new ChangeHistory(1, 0, BIG);
    const out = history.append(
      [
        txn(1, ['k', 'v']),
        {
          zxid: 2,
          txn: false,
          changes: [
            { key: 'p/1', value: undefined },
            { key: 'p/2', value: undefined },
          ],
        },
        {
          zxid: 3,
          txn: false,
          changes: [
            { key: 'p/1', value: undefined },
            { key: 'p/2', value: Buffer.from('v') },
          ],
        },
      ],
      3,
    );
    expect(out.map(show)).toEqual(['1 txn k=v', '2 delete -p/1 -p/2', '3 txn -p/1 p/2=v']);
  });

  it('stops after the event that brings the values to maxBytes, with the cursor at that event', () => {
    const history = new ChangeHistory(1, 0, BIG);
    const entries = [1, 2, 3, 4, 5].map((z) => put(z, 'k', 'x'.repeat(100)));
    history.append(entries, 5);
    const one = OVERHEAD + 2 + 100; // key 'k' counted as two bytes
    expect(events(history.read(0, ALL, 1, 10_000))).toMatchObject({ cursor: 1 });
    expect(events(history.read(0, ALL, one, 10_000)).events).toHaveLength(1);
    expect(events(history.read(0, ALL, one + 1, 10_000))).toMatchObject({ cursor: 2 });
    expect(events(history.read(0, ALL, 2 * one + 1, 10_000)).events).toHaveLength(3);
    expect(events(history.read(2, ALL, 2 * one, 10_000))).toMatchObject({ cursor: 4 });
    // The last read continues from the cursor the cut one gave.
    expect(events(history.read(4, ALL, 1 << 20, 10_000))).toMatchObject({ cursor: 5 });
  });

  it('counts only the matching changes of an entry toward maxBytes', () => {
    const history = new ChangeHistory(1, 0, BIG);
    history.append(
      [
        txn(1, ['big', 'x'.repeat(10_000)], ['k', 's']),
        txn(2, ['big', 'x'.repeat(10_000)], ['k', 's']),
      ],
      2,
    );
    expect(events(history.read(0, filter([], ['k']), 1_000, 10_000))).toEqual({
      events: ['1 txn k=s', '2 txn k=s'],
      cursor: 2,
    });
  });

  it('looks at no more than maxScanned entries and gives a cursor that shows how far it went', () => {
    const history = new ChangeHistory(1, 0, BIG);
    history.append(
      Array.from({ length: 10 }, (_, i) => put(i + 1, i === 7 ? 'rare' : 'common')),
      12,
    );
    const rare = filter([], ['rare']);
    expect(events(history.read(0, rare, 1 << 20, 3))).toEqual({ events: [], cursor: 3 });
    expect(events(history.read(3, rare, 1 << 20, 3))).toEqual({ events: [], cursor: 6 });
    expect(events(history.read(6, rare, 1 << 20, 3))).toEqual({
      events: ['8 put rare=v8'],
      cursor: 9,
    });
    expect(events(history.read(9, rare, 1 << 20, 3))).toEqual({ events: [], cursor: 12 });
  });

  it('omits values over WATCH_VALUE_MAX_BYTES, keeps one of exactly that size', () => {
    const history = new ChangeHistory(1, 0, BIG);
    const [atLimit, over] = history.append(
      [
        {
          zxid: 1,
          txn: false,
          changes: [{ key: 'k', value: new Uint8Array(WATCH_VALUE_MAX_BYTES) }],
        },
        {
          zxid: 2,
          txn: false,
          changes: [{ key: 'k', value: new Uint8Array(WATCH_VALUE_MAX_BYTES + 1) }],
        },
      ],
      2,
    );
    expect(atLimit!.changes[0]!.value?.byteLength).toBe(WATCH_VALUE_MAX_BYTES);
    expect(over!.changes[0]).toEqual({ key: 'k', type: 'put', valueOmitted: true });
    // An omitted value costs the history nothing beyond its key.
    expect(history.bytes).toBe(2 * (OVERHEAD + 2) + WATCH_VALUE_MAX_BYTES);
  });

  it('holds copies of the values, not views into the applied buffers', () => {
    const history = new ChangeHistory(1, 0, BIG);
    const batch = Buffer.from('hello world');
    history.append(
      [{ zxid: 1, txn: false, changes: [{ key: 'k', value: batch.subarray(0, 5) }] }],
      1,
    );
    batch.fill(0x21);
    const read = history.read(0, ALL, 1 << 20, 10);
    expect(events(read)).toEqual({ events: ['1 put k=hello'], cursor: 1 });
    // What a read returns does not keep a whole chunk of the history alive either.
    const value = typeof read === 'object' ? read.events[0]!.changes[0]!.value! : undefined;
    expect(value!.buffer.byteLength).toBe(5);
  });

  it('refuses entries out of zxid order and an applied zxid below them (our own invariant)', () => {
    const history = sample();
    expect(() => history.append([put(18, 'k')], 18)).toThrow();
    expect(() => history.append([put(20, 'k')], 19)).toThrow();
  });
});

describe('ChangeHistory bounds', () => {
  it('drops the oldest entries past maxEntries, and the floor follows', () => {
    const history = new ChangeHistory(1, 0, { maxEntries: 3, maxBytes: 1 << 30 });
    history.append([put(1, 'a'), put(2, 'a'), put(3, 'a')], 3);
    expect(history.floor).toBe(0);
    history.append([put(4, 'a'), put(5, 'a')], 7);
    expect(history.length).toBe(3);
    expect(history.floor).toBe(2);
    expect(history.read(1, ALL, 1 << 20, 100)).toBe('compacted');
    expect(events(history.read(2, ALL, 1 << 20, 100)).events.map((e) => e.split(' ')[0])).toEqual([
      '3',
      '4',
      '5',
    ]);
  });

  it('drops the oldest entries past maxBytes, and tracks the bytes it holds', () => {
    const one = OVERHEAD + 2 + 100;
    const history = new ChangeHistory(1, 0, { maxEntries: 1_000, maxBytes: 3 * one });
    history.append(
      [1, 2, 3].map((z) => put(z, 'k', 'x'.repeat(100))),
      3,
    );
    expect(history.bytes).toBe(3 * one);
    expect(history.floor).toBe(0);
    history.append([put(4, 'k', 'x'.repeat(100))], 4);
    expect(history.bytes).toBe(3 * one);
    expect(history.floor).toBe(1);
    // One entry larger than the whole bound is not kept either: the floor moves past it.
    history.append([put(5, 'k', 'x'.repeat(4 * one))], 5);
    expect(history.length).toBe(0);
    expect(history.bytes).toBe(0);
    expect(history.floor).toBe(5);
    expect(events(history.read(5, ALL, 1 << 20, 100))).toEqual({ events: [], cursor: 5 });
  });
});

describe('ChangeHistory.restore', () => {
  it('forward (a snapshot installed): the history restarts at the new applied zxid', () => {
    const history = sample();
    history.restore(40);
    expect([history.floor, history.applied, history.length, history.bytes]).toEqual([40, 40, 0, 0]);
    expect(history.read(18, ALL, 1 << 20, 100)).toBe('compacted');
    expect(events(history.read(40, ALL, 1 << 20, 100))).toEqual({ events: [], cursor: 40 });
    history.append([put(41, 'k')], 41);
    expect(events(history.read(40, ALL, 1 << 20, 100)).events).toEqual(['41 put k=v41']);
  });

  it('backward (a reload): the entries after it go, the floor is kept', () => {
    const history = sample();
    const bytesThrough13 = 3 * (OVERHEAD + 6 + 3) - 3; // a/1=v11, b/1=v12, the delete of a/2
    history.restore(13);
    expect([history.floor, history.applied, history.length]).toEqual([10, 13, 3]);
    expect(history.bytes).toBe(bytesThrough13);
    expect(history.read(14, ALL, 1 << 20, 100)).toBe('behind');
    expect(events(history.read(10, ALL, 1 << 20, 100))).toEqual({
      events: ['11 put a/1=v11', '12 put b/1=v12', '13 delete -a/2'],
      cursor: 13,
    });
    // The committed entries are applied again, the same: the history is whole again.
    history.append([put(14, 'a/1', 'again'), put(15, 'c')], 15);
    expect(events(history.read(12, ALL, 1 << 20, 100)).events).toEqual([
      '13 delete -a/2',
      '14 put a/1=again',
      '15 put c=v15',
    ]);
  });

  it('at its own applied zxid (a reload that lost nothing): everything held stays', () => {
    const history = sample();
    const bytes = history.bytes;
    history.restore(18);
    expect([history.floor, history.applied, history.length, history.bytes]).toEqual([
      10,
      18,
      6,
      bytes,
    ]);
    expect(events(history.read(10, ALL, 1 << 20, 100)).events).toHaveLength(6);
  });

  it('backward below its floor: the floor is lowered to it, nothing is held', () => {
    const history = new ChangeHistory(1, 0, { maxEntries: 2, maxBytes: 1 << 30 });
    history.append([put(1, 'a'), put(2, 'a'), put(3, 'a'), put(4, 'a')], 4);
    expect(history.floor).toBe(2);
    history.restore(1);
    expect([history.floor, history.applied, history.length, history.bytes]).toEqual([1, 1, 0, 0]);
    history.append([put(2, 'a'), put(3, 'a')], 3);
    expect(events(history.read(1, ALL, 1 << 20, 100)).events).toEqual(['2 put a=v2', '3 put a=v3']);
  });
});
