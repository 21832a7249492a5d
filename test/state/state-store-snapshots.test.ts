import { AssertionError } from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_BYTES } from '../../components/limits.js';
import { COUNTER_LIMIT, MAX_EPOCH, makeZxid } from '../../kv/zxid.js';
import { decodePiece } from '../../state/snapshot-pieces.js';
import type { SnapshotReader, StateInstall, StateStore } from '../../state/state-store.js';
import { STATE_STORE_KINDS, checkpointed, pollUntil, stateDisks } from './fixtures/state-stores.js';
import {
  applyAll,
  bytes,
  contents,
  del,
  everything,
  put,
  summary,
  text,
  z,
} from './fixtures/writes.js';

/** Every piece of `reader` at `maxBytes`, then closes it. */
function readAll(reader: SnapshotReader, maxBytes: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let piece = reader.next(maxBytes); piece !== null; piece = reader.next(maxBytes)) {
    pieces.push(piece);
    if (pieces.length > 100_000) throw new Error('a snapshot reader that never ends');
  }
  reader.close();
  return pieces;
}

/** Adds every piece, expecting each taken, and finishes. */
function addAll(install: StateInstall, pieces: readonly Uint8Array[]): void {
  for (const piece of pieces) expect(install.add(piece)).toBeNull();
  install.finish();
}

async function installed(store: StateStore, install: StateInstall): Promise<void> {
  await pollUntil(store, () => install.installed, `the install at ${install.zxid}`);
}

/** SnapshotReader → StateInstall (SNAP sync), on both stores (state/state-store.ts). */
describe.each(STATE_STORE_KINDS)('StateStore snapshots (%s)', (kind) => {
  const disks = stateDisks(kind);
  const fresh = (): StateStore => disks.open().store();

  /** A store whose every apply is released and flushed, so its snapshot is at appliedZxid. */
  async function settled(fill: (store: StateStore) => void): Promise<StateStore> {
    const store = fresh();
    fill(store);
    store.release(store.appliedZxid);
    await checkpointed(store);
    return store;
  }

  function busy(store: StateStore): void {
    store.apply(z(1), put('a', 'one'));
    store.apply(z(2), put('b', ''));
    store.apply(z(3), put('c', 'sea'));
    store.apply(z(4), del('b'));
    store.apply(z(1, 2), put('a', 'two'));
    store.apply(z(2, 2), put('d', 'x', { ifMatch: '*' })); // 412
    store.apply(z(3, 2), put('e', ''));
    for (let i = 0; i < 60; i++) store.apply(z(10 + i, 2), put(`k${i}-ключ-😀`, `value ${i}`));
    store.apply(z(100, 2), { op: 'put', key: 'bin', value: new Uint8Array([0, 255, 0xc1]) });
    store.apply(z(101, 2), put('é'.repeat(512), 'the longest key'));
  }

  /** Copies `source` into a new store of this kind, `maxBytes` a piece; returns it. */
  async function copied(source: StateStore, maxBytes: number): Promise<StateStore> {
    const reader = source.openSnapshot();
    expect(reader.zxid).toBe(source.appliedZxid);
    const target = fresh();
    const install = target.beginInstall(reader.zxid);
    expect(install.zxid).toBe(reader.zxid);
    addAll(install, readAll(reader, maxBytes));
    await installed(target, install);
    return target;
  }

  describe('round trips', () => {
    it('keeps contents, versions, appliedZxid, size, bytes and digest, over many pieces', async () => {
      const source = await settled(busy);
      const reader = source.openSnapshot();
      const pieces = readAll(reader, 64);
      expect(pieces.length).toBeGreaterThan(20);
      let previous: string | null = null;
      for (const piece of pieces) {
        const entries = decodePiece(piece, reader.zxid, previous);
        if (typeof entries === 'string') throw new Error(entries);
        expect(entries.length).toBeGreaterThan(0);
        if (entries.length > 1) expect(piece.byteLength).toBeLessThanOrEqual(64 + 5);
        previous = entries.at(-1)!.key;
      }
      const target = await copied(source, 64);
      expect(summary(target)).toEqual(summary(source));
      expect(target.durableZxid).toBe(source.appliedZxid);
      expect(everything(target)).toEqual(everything(source));
      expect(contents(target, ['a', 'b', 'c', 'd', 'e'])).toEqual({
        a: [z(1, 2), 'two'],
        b: 404,
        c: [z(3), 'sea'],
        d: 404,
        e: [z(3, 2), ''],
      });
      expect([...(target.get('bin') as { value: Uint8Array }).value]).toEqual([0, 255, 0xc1]);
      expect(target.size).toBe(65);
    });

    it('an installed store continues where the original left off', async () => {
      const source = await settled(busy);
      const target = await copied(source, 1000);
      expect(() => target.apply(z(101, 2), put('a', 'x'))).toThrow(AssertionError);
      const write = put('a', 'three', { ifMatch: z(1, 2) });
      expect(target.apply(z(102, 2), write)).toEqual(source.apply(z(102, 2), write));
      expect(target.digest()).toBe(source.digest());
      target.release(z(102, 2));
      expect(await checkpointed(target)).toBe(z(102, 2));
    });

    it('round-trips an empty state and its applied zxid as one empty piece', async () => {
      const source = await settled((store) => {
        store.apply(z(16, 4), put('gone', 'soon'));
        store.apply(z(17, 4), del('gone'));
      });
      const reader = source.openSnapshot();
      expect(reader.zxid).toBe(z(17, 4));
      const pieces = readAll(reader, 1000);
      expect(pieces).toHaveLength(1);
      expect(decodePiece(pieces[0]!, reader.zxid, null)).toEqual([]);
      // Installed over a store that holds something: it is emptied.
      const target = await settled((store) => applyAll(store, [put('x', 'y'), put('w', 'v')]));
      const install = target.beginInstall(reader.zxid);
      addAll(install, pieces);
      await installed(target, install);
      expect(summary(target)).toEqual({ ...summary(fresh()), appliedZxid: z(17, 4) });
      expect(target.durableZxid).toBe(z(17, 4));
      expect(target.range('', null, 10)).toEqual([]);
    });

    it('round-trips the largest zxids', async () => {
      const top = makeZxid(MAX_EPOCH, COUNTER_LIMIT);
      const source = await settled((store) => {
        store.apply(top - 1, put('j', 'v'));
        store.apply(top, put('k', 'v'));
      });
      const target = await copied(source, 1000);
      expect(target.appliedZxid).toBe(top);
      expect(target.get('k')).toMatchObject({ status: 200, version: top });
      expect(target.get('j')).toMatchObject({ status: 200, version: top - 1 });
    });

    it('puts a value of the largest size alone in its piece, and round-trips it', async () => {
      const large = new Uint8Array(MAX_VALUE_BYTES);
      for (let i = 0; i < large.length; i += 997) large[i] = i & 0xff;
      const source = await settled((store) =>
        applyAll(store, [put('a', 'small'), put('b', large), put('c', 'small'), put('d', 'x')]),
      );
      const reader = source.openSnapshot();
      const pieces = readAll(reader, 4096);
      const keys = pieces.map((piece) => {
        const entries = decodePiece(piece, reader.zxid, null);
        if (typeof entries === 'string') throw new Error(entries);
        return entries.map(({ key }) => key);
      });
      expect(keys).toContainEqual(['b']);
      expect(keys.flat()).toEqual(['a', 'b', 'c', 'd']);
      const target = await copied(source, 4096);
      expect(summary(target)).toEqual(summary(source));
      expect(target.bytesOf('b')).toBe(1 + MAX_VALUE_BYTES);
      expect(Buffer.compare((target.get('b') as { value: Uint8Array }).value, large)).toBe(0);
    });

    it('a reader is a consistent view: later writes do not show, between pieces either', async () => {
      const source = await settled((store) =>
        applyAll(
          store,
          Array.from({ length: 20 }, (_, i) => put(`k${String(i).padStart(2, '0')}`, `v${i}`)),
        ),
      );
      const before = everything(source);
      const digest = source.digest();
      const reader = source.openSnapshot();
      const zxid = reader.zxid;
      const pieces = [reader.next(40)!];
      applyAll(source, [del('k19'), put('k10', 'changed'), put('k155', 'new'), del('k00')]);
      source.release(source.appliedZxid);
      await checkpointed(source);
      for (let piece = reader.next(40); piece !== null; piece = reader.next(40)) pieces.push(piece);
      reader.close();
      reader.close(); // safe twice
      const target = fresh();
      const install = target.beginInstall(zxid);
      addAll(install, pieces);
      await installed(target, install);
      expect(everything(target)).toEqual(before);
      expect(target.digest()).toBe(digest);
      expect(target.appliedZxid).toBe(zxid);
    });

    it('a snapshot holds released state only', async () => {
      const source = await settled((store) => applyAll(store, [put('a', 'one')]));
      source.apply(source.appliedZxid + 1, put('b', 'unreleased'));
      const reader = source.openSnapshot();
      expect(reader.zxid).toBe(z(1));
      const target = fresh();
      const install = target.beginInstall(reader.zxid);
      addAll(install, readAll(reader, 1000));
      await installed(target, install);
      expect(contents(target, ['a', 'b'])).toEqual({ a: [z(1), 'one'], b: 404 });
    });
  });

  describe('installing', () => {
    /** A settled store with `writes` applied from `first` on, and its snapshot in pieces. */
    async function snapshotOf(
      writes: Parameters<typeof applyAll>[1],
      first = z(1),
    ): Promise<{ store: StateStore; zxid: number; pieces: Uint8Array[] }> {
      const store = await settled((s) => {
        s.apply(first, writes[0]!);
        applyAll(s, writes.slice(1));
      });
      const reader = store.openSnapshot();
      return { store, zxid: reader.zxid, pieces: readAll(reader, 32) };
    }

    it('switches only at a poll, once on disk, to the snapshot’s counts and zxids', async () => {
      const snapshot = await snapshotOf(
        [put('a', 'A'), put('x', 'snap'), put('é', 'e'), del('a')],
        z(1, 5),
      );
      const target = await settled((store) => {
        for (let i = 1; i <= 30; i++) store.apply(z(i, 3), put(`live${i}`, 'live'));
      });
      const live = summary(target);
      const install = target.beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      expect(install.installed).toBe(false);
      expect(summary(target)).toEqual(live);
      await pollUntil(
        target,
        () => {
          if (!install.installed) expect(summary(target)).toEqual(live);
          return install.installed;
        },
        'the install',
      );
      expect(summary(target)).toEqual(summary(snapshot.store));
      expect(target.appliedZxid).toBe(snapshot.zxid);
      expect(target.durableZxid).toBe(snapshot.zxid);
      expect(everything(target)).toEqual(everything(snapshot.store));
      expect(target.get('live1')).toEqual({ status: 404 });
      // A snapshot of the installed state is the installed state.
      const hex = (piece: Uint8Array): string => Buffer.from(piece).toString('hex');
      expect(readAll(target.openSnapshot(), 32).map(hex)).toEqual(snapshot.pieces.map(hex));
    });

    it('counts the pieces it has written, seen only at a poll, up to every piece added', async () => {
      const snapshot = await snapshotOf(
        Array.from({ length: 40 }, (_, i) => put(`piece-key-${i}`, 'v'.repeat(20))),
      );
      expect(snapshot.pieces.length).toBeGreaterThan(10);
      const target = fresh();
      const install = target.beginInstall(snapshot.zxid);
      expect(install.piecesWritten).toBe(0);
      let seen = 0;
      for (const [i, piece] of snapshot.pieces.entries()) {
        expect(install.add(piece)).toBeNull();
        // Between polls the count stands still, whatever the store finished meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 1));
        expect(install.piecesWritten).toBe(seen);
        target.poll();
        expect(install.piecesWritten).toBeGreaterThanOrEqual(seen);
        expect(install.piecesWritten).toBeLessThanOrEqual(i + 1);
        seen = install.piecesWritten;
      }
      await pollUntil(
        target,
        () => install.piecesWritten === snapshot.pieces.length,
        'every piece written',
      );
      install.finish();
      await installed(target, install);
      expect(everything(target)).toEqual(everything(snapshot.store));
    });

    it('an aborted install leaves the live state, and the next install has nothing of it', async () => {
      const aborted = await snapshotOf([put('abort1', 'x'), put('abort2', 'y')]);
      const next = await snapshotOf([put('next', 'n')]);
      const target = await settled((store) => applyAll(store, [put('live', 'l')]));
      const live = summary(target);
      const install = target.beginInstall(aborted.zxid);
      expect(install.add(aborted.pieces[0]!)).toBeNull();
      install.abort();
      expect(install.add(aborted.pieces[1] ?? aborted.pieces[0]!)).toEqual(expect.any(String));
      target.apply(z(2), put('after', 'abort'));
      target.release(z(2));
      await checkpointed(target);
      expect(install.installed).toBe(false);
      expect(summary(target)).toEqual({ ...live, ...summary(target), appliedZxid: z(2) });
      expect(contents(target, ['live', 'after', 'abort1'])).toEqual({
        live: [z(1), 'l'],
        after: [z(2), 'abort'],
        abort1: 404,
      });
      const second = target.beginInstall(next.zxid);
      addAll(second, next.pieces);
      await installed(target, second);
      expect(everything(target)).toEqual(everything(next.store));
      expect(summary(target)).toEqual(summary(next.store));
    });

    it('refuses a piece after finish', async () => {
      const snapshot = await snapshotOf([put('a', 'A')]);
      const target = fresh();
      const install = target.beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      expect(install.add(snapshot.pieces[0]!)).toEqual(expect.any(String));
      await installed(target, install);
      expect(summary(target)).toEqual(summary(snapshot.store));
    });

    it('installs twice in a row with nothing left of the states before', async () => {
      const first = await snapshotOf([put('one', '1'), put('both', 'first')]);
      const second = await snapshotOf([put('two', '2'), put('both', 'second'), put('b', 'b')]);
      const third = await snapshotOf([put('three', '3')]);
      const target = await settled((store) => applyAll(store, [put('live', 'l')]));
      for (const snapshot of [first, second, third]) {
        const install = target.beginInstall(snapshot.zxid);
        addAll(install, snapshot.pieces);
        await installed(target, install);
        expect(everything(target)).toEqual(everything(snapshot.store));
        expect(summary(target)).toEqual(summary(snapshot.store));
      }
    });

    it('applies go on after an install, and a restart finds the installed state with them', async () => {
      const snapshot = await snapshotOf([put('s1', 'a'), put('s2', 'b'), put('s3', 'c')]);
      const disk = disks.open();
      const target = disk.store();
      applyAll(target, [put('old', 'x')]);
      target.release(z(1));
      await checkpointed(target);
      const install = target.beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      await installed(target, install);
      const next = snapshot.zxid + 1;
      target.apply(next, del('s2'));
      target.apply(next + 1, put('s4', 'd'));
      target.release(next + 1);
      await checkpointed(target);
      const expected = summary(target);
      const listed = everything(target);
      await disk.restart();
      expect(summary(disk.store())).toEqual(expected);
      expect(everything(disk.store())).toEqual(listed);
      expect(disk.store().get('old')).toEqual({ status: 404 });
    });

    it('a restart in the middle of an install finds the live state, and installs afresh', async () => {
      const interrupted = await snapshotOf([put('i1', 'x'), put('i2', 'y'), put('i3', 'z')]);
      const next = await snapshotOf([put('n', 'next')], z(1, 2));
      const disk = disks.open();
      applyAll(disk.store(), [put('live', 'l')]);
      disk.store().release(z(1));
      await checkpointed(disk.store());
      const live = summary(disk.store());
      const install = disk.store().beginInstall(interrupted.zxid);
      expect(install.add(interrupted.pieces[0]!)).toBeNull();
      await disk.restart();
      expect(summary(disk.store())).toEqual(live);
      expect(disk.store().get('i1')).toEqual({ status: 404 });
      const again = disk.store().beginInstall(next.zxid);
      addAll(again, next.pieces);
      await installed(disk.store(), again);
      expect(everything(disk.store())).toEqual(everything(next.store));
      expect(summary(disk.store())).toEqual(summary(next.store));
    });

    it('a restart after finish, before the switch, finds one state whole: the live or the snapshot', async () => {
      const snapshot = await snapshotOf([put('s1', 'x'), put('s2', 'y')], z(1, 2));
      const disk = disks.open();
      applyAll(disk.store(), [put('live', 'l')]);
      disk.store().release(z(1));
      await checkpointed(disk.store());
      const live = { summary: summary(disk.store()), all: everything(disk.store()) };
      const install = disk.store().beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      await disk.restart();
      const after = { summary: summary(disk.store()), all: everything(disk.store()) };
      expect([
        live,
        { summary: summary(snapshot.store), all: everything(snapshot.store) },
      ]).toContainEqual(after);
    });

    it('an install right after releases still committing: a restart finds the installed state', async () => {
      const snapshot = await snapshotOf([put('s', 'snap')], z(1, 2));
      const disk = disks.open();
      const target = disk.store();
      target.apply(z(1), put('old1', 'x'));
      target.release(z(1));
      target.apply(z(2), put('old2', 'y'));
      target.release(z(2));
      const install = target.beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      await installed(target, install);
      expect(everything(target)).toEqual(everything(snapshot.store));
      await checkpointed(target);
      await disk.restart();
      expect(summary(disk.store())).toEqual(summary(snapshot.store));
      expect(everything(disk.store())).toEqual(everything(snapshot.store));
    });

    it('installs a snapshot older than the live state (a diverged replica): its zxids are the snapshot’s', async () => {
      const snapshot = await snapshotOf([put('s', 'snap')]);
      const target = await settled((store) => {
        for (let i = 1; i <= 5; i++) store.apply(z(i, 7), put(`ahead${i}`, 'x'));
      });
      expect(target.durableZxid).toBeGreaterThan(snapshot.zxid);
      const install = target.beginInstall(snapshot.zxid);
      addAll(install, snapshot.pieces);
      await installed(target, install);
      expect(summary(target)).toEqual(summary(snapshot.store));
      expect(target.durableZxid).toBe(snapshot.zxid);
    });
  });

  describe('hostile pieces: add() says why and takes nothing', () => {
    const SNAPSHOT_ZXID = z(10);
    const entry = (key: unknown, version: unknown, value: unknown): unknown[] => [
      key,
      version,
      value,
    ];
    const good = (key: string): unknown[] => entry(key, z(5), bytes(`v-${key}`));
    /** Packs rows as a piece is packed (snapshot-pieces.ts), whatever their types. */
    const pack = (...rows: unknown[][]): Uint8Array => rawPack(rows.flat());

    const cases: [string, Uint8Array][] = [
      ['empty input', new Uint8Array(0)],
      ['a reserved msgpack byte', new Uint8Array([0xc1])],
      ['a truncated array', new Uint8Array([0x93, 0xa2, 0x6e])],
      ['random bytes', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03])],
      [
        'an array of length 2^32-1 with nothing in it',
        new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]),
      ],
      ['a map', rawPack({ n0: bytes('v') })],
      ['a string', rawPack('n0')],
      ['a number', rawPack(5)],
      ['null', rawPack(null)],
      ['rows not in threes', rawPack([...good('n0'), 'n1', z(5)])],
      ['a number key', pack(good('n0'), entry(7, z(5), bytes('v')))],
      ['a bytes key', pack(good('n0'), entry(bytes('n1'), z(5), bytes('v')))],
      ['a string value', pack(good('n0'), entry('n1', z(5), 'v'))],
      ['a null value', pack(good('n0'), entry('n1', z(5), null))],
      ['a timestamp value', pack(good('n0'), entry('n1', z(5), new Date(0)))],
      ['a bytes version', pack(good('n0'), entry('n1', bytes('1'), bytes('v')))],
      ['a string version', pack(good('n0'), entry('n1', String(z(5)), bytes('v')))],
      ['version 0', pack(good('n0'), entry('n1', 0, bytes('v')))],
      ['version -1', pack(good('n0'), entry('n1', -1, bytes('v')))],
      ['a fractional version', pack(good('n0'), entry('n1', z(5) + 0.5, bytes('v')))],
      [
        'a version above the snapshot zxid',
        pack(good('n0'), entry('n1', SNAPSHOT_ZXID + 1, bytes('v'))),
      ],
      ['a version of a later epoch', pack(good('n0'), entry('n1', z(1, 2), bytes('v')))],
      ['a key before the last key of the previous piece', pack(good('n0'), good('c'))],
      ['the last key of the previous piece again', pack(good('m'))],
      ['a key twice', pack(good('n0'), good('n0'))],
      ['keys in UTF-16 order, not UTF-8 order', pack(good('n0'), good('😀'), good('\uE000'))],
      ['an empty key', pack(good('n0'), good(''))],
      ['a key over the limit', pack(good('n0'), good('n'.repeat(1025)))],
      ['a key over the limit in UTF-8 only', pack(good('n0'), good('é'.repeat(513)))],
      [
        'a value over the limit',
        pack(good('n0'), entry('n1', z(5), new Uint8Array(MAX_VALUE_BYTES + 1))),
      ],
    ];

    it('refuses each, and the install goes on without them', async () => {
      const target = await settled((store) =>
        applyAll(store, [put('live', 'l'), put('n0', 'live')]),
      );
      target.apply(z(3), put('unreleased', 'u'));
      const live = summary(target);
      const listed = everything(target);
      const install = target.beginInstall(SNAPSHOT_ZXID);
      expect(install.add(pack(good('a'), good('m')))).toBeNull();
      for (const [name, bad] of cases) {
        expect(install.add(bad), name).toEqual(expect.any(String));
        expect(summary(target), name).toEqual(live);
      }
      target.poll();
      expect(everything(target)).toEqual(listed);
      // Nothing of the refused pieces was taken: the install goes on without them.
      expect(install.add(pack(good('p')))).toBeNull();
      install.finish();
      await installed(target, install);
      expect(everything(target).map(({ key }) => key)).toEqual(['a', 'm', 'p']);
      expect(target.size).toBe(3);
      expect(target.bytes).toBe(3 * (1 + 3));
      expect(target.appliedZxid).toBe(SNAPSHOT_ZXID);
      expect(target.durableZxid).toBe(SNAPSHOT_ZXID);
    });

    it('an install aborted after a refused piece leaves the live state', async () => {
      const target = await settled((store) => applyAll(store, [put('live', 'l')]));
      const live = summary(target);
      const install = target.beginInstall(SNAPSHOT_ZXID);
      expect(install.add(pack(good('m')))).toBeNull();
      expect(install.add(cases[1]![1])).toEqual(expect.any(String));
      install.abort();
      await checkpointed(target);
      target.poll();
      expect(install.installed).toBe(false);
      expect(summary(target)).toEqual(live);
      expect(text((target.get('live') as { value: Uint8Array }).value)).toBe('l');
      expect(target.get('m')).toEqual({ status: 404 });
    });
  });
});

const rawPacker = new Packr({ useRecords: false, moreTypes: false });
function rawPack(value: unknown): Uint8Array {
  return rawPacker.pack(value);
}
