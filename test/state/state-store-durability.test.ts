import { describe, expect, it } from 'vitest';
import type { KvWrite } from '../../kv/kv-operation.js';
import type { StateStore } from '../../state/state-store.js';
import { compareKeys } from '../../state/write-rules.js';
import { STATE_STORE_KINDS, checkpointed, pollUntil, stateDisks } from './fixtures/state-stores.js';
import {
  applyAll,
  bytes,
  contents,
  del,
  everything,
  nextZxid,
  put,
  summary,
  z,
  type PlainEntry,
} from './fixtures/writes.js';

/** release, revertUnreleased, checkpoint and restarts (state/state-store.ts, "Durability"). */
describe.each(STATE_STORE_KINDS)('StateStore durability (%s)', (kind) => {
  const disks = stateDisks(kind);

  describe('release and revertUnreleased', () => {
    it('revert drops exactly the applies not released', () => {
      const store = disks.open().store();
      store.apply(z(1), put('a', 'one'));
      store.apply(z(2), put('b', 'bee'));
      store.apply(z(3), put('a', 'two'));
      store.release(z(2));
      const released = { ...summary(store), appliedZxid: z(2) };
      const keys = ['a', 'b', 'c'];
      store.apply(z(4), put('c', 'sea'));
      store.apply(z(5), del('b'));
      store.revertUnreleased();
      expect(contents(store, keys)).toEqual({ a: [z(1), 'one'], b: [z(2), 'bee'], c: 404 });
      expect(store.appliedZxid).toBe(z(2));
      expect(store.size).toBe(2);
      expect(store.bytes).toBe(4 + 4);
      expect(store.bytesOf('a')).toBe(4);
      expect(store.digest()).not.toBe(released.digest); // that one had a@z(3)
      expect(everything(store).map(({ key, version }) => [key, version])).toEqual([
        ['a', z(1)],
        ['b', z(2)],
      ]);
      // The reverted zxids are free again: the log after the release may differ now.
      expect(store.apply(z(3), put('c', 'other'))).toEqual({ status: 200, version: z(3) });
      expect(contents(store, keys)).toEqual({
        a: [z(1), 'one'],
        b: [z(2), 'bee'],
        c: [z(3), 'other'],
      });
    });

    it('revert with nothing released returns to the empty state', () => {
      const store = disks.open().store();
      applyAll(store, [put('a', 'one'), put('b', 'two'), del('a')]);
      store.revertUnreleased();
      expect(summary(store)).toEqual(summary(disks.open().store()));
      expect(store.get('b')).toEqual({ status: 404 });
    });

    it('revert keeps what was released and committed, under later unreleased writes', async () => {
      const store = disks.open().store();
      applyAll(store, [put('a', 'one'), put('b', 'two'), put('c', 'three')]);
      store.release(z(3));
      await checkpointed(store);
      const before = summary(store);
      const listed = everything(store);
      applyAll(store, [del('a'), put('b', 'changed'), put('d', 'new'), del('c')]);
      store.revertUnreleased();
      expect(summary(store)).toEqual(before);
      expect(everything(store)).toEqual(listed);
    });

    it('release above the last apply releases through the last apply only', () => {
      const store = disks.open().store();
      applyAll(store, [put('a', 'one'), put('b', 'two')]);
      store.release(z(9));
      store.apply(z(3), put('c', 'three'));
      store.revertUnreleased();
      expect(store.appliedZxid).toBe(z(2));
      expect(contents(store, ['a', 'b', 'c'])).toEqual({
        a: [z(1), 'one'],
        b: [z(2), 'two'],
        c: 404,
      });
    });

    it('a release at or below an earlier one changes nothing', () => {
      const store = disks.open().store();
      applyAll(store, [put('a', 'one'), put('b', 'two'), put('c', 'three')]);
      store.release(z(2));
      store.release(z(1));
      store.release(z(2));
      store.revertUnreleased();
      expect(store.appliedZxid).toBe(z(2));
      expect(store.size).toBe(2);
    });
  });

  describe('checkpoint', () => {
    it('durableZxid reaches the zxid the checkpoint returned, at a poll', async () => {
      const store = disks.open().store();
      applyAll(store, [put('a', 'one'), put('b', 'two'), put('c', 'three')]);
      store.release(z(2));
      expect(store.durableZxid).toBe(0);
      expect(await checkpointed(store)).toBe(z(2));
      expect(store.appliedZxid).toBe(z(3)); // applying goes on beside it
      store.release(z(3));
      expect(store.durableZxid).toBe(z(2));
      expect(await checkpointed(store)).toBe(z(3));
    });

    it('a checkpoint with nothing released returns what is durable already', async () => {
      const store = disks.open().store();
      store.apply(z(1), put('a', 'one'));
      expect(await checkpointed(store)).toBe(0);
    });

    it('durableZxid never moves without a poll', async () => {
      const disk = disks.open();
      const store = disk.store(1);
      store.apply(z(1), put('a', 'one'));
      store.release(z(1));
      const promised = store.checkpoint();
      // Another group's checkpoint on the same disk, asked later, finishes later: by then the
      // first one is done on disk, and still nothing changes until the store is polled.
      const other = disk.store(2);
      other.apply(z(1), put('x', 'y'));
      other.release(z(1));
      await checkpointed(other);
      expect(store.durableZxid).toBe(0);
      await pollUntil(store, () => store.durableZxid === promised, 'the first checkpoint');
    });
  });

  describe('restart', () => {
    it('reads back the state of the last checkpointed release', async () => {
      const disk = disks.open();
      let store = disk.store();
      applyAll(store, [put('a', 'one'), put('é', bytes('two')), put('c', 'x'), del('c')]);
      store.apply(z(5), put('a', 'three', { ifMatch: '*' }));
      store.release(z(5));
      await checkpointed(store);
      const expected = summary(store);
      const listed = everything(store);
      store.apply(z(6), put('zz', 'not released'));
      await disk.restart();
      store = disk.store();
      expect(summary(store)).toEqual(expected);
      expect(store.durableZxid).toBe(z(5));
      expect(everything(store)).toEqual(listed);
      expect(contents(store, ['a', 'é', 'c', 'zz'])).toEqual({
        a: [z(5), 'three'],
        é: [z(2), 'two'],
        c: 404,
        zz: 404,
      });
      // It goes on from there.
      expect(() => store.apply(z(5), put('b', 'x'))).toThrow();
      expect(store.apply(z(6), put('b', 'x'))).toEqual({ status: 200, version: z(6) });
    });

    it('never reads back an apply that was not released', async () => {
      const disk = disks.open();
      const store = disk.store();
      applyAll(store, [put('a', 'one'), put('b', 'two')]);
      store.release(z(1));
      await checkpointed(store);
      store.apply(z(3), put('c', 'three'));
      store.apply(z(4), del('a'));
      await disk.restart();
      expect(contents(disk.store(), ['a', 'b', 'c'])).toEqual({
        a: [z(1), 'one'],
        b: 404,
        c: 404,
      });
      expect(disk.store().appliedZxid).toBe(z(1));
    });

    it('keeps the groups of one disk apart', async () => {
      const disk = disks.open();
      disk.store(1).apply(z(1), put('a', 'group 1'));
      disk.store(2).apply(z(7), put('a', 'group 2'));
      disk.store(2).apply(z(8), put('b', 'group 2'));
      for (const group of [1, 2]) {
        disk.store(group).release(z(9));
        await checkpointed(disk.store(group));
      }
      await disk.restart();
      expect(contents(disk.store(1), ['a', 'b'])).toEqual({ a: [z(1), 'group 1'], b: 404 });
      expect(contents(disk.store(2), ['a', 'b'])).toEqual({
        a: [z(7), 'group 2'],
        b: [z(8), 'group 2'],
      });
      expect(disk.store(1).appliedZxid).toBe(z(1));
      expect(disk.store(2).size).toBe(2);
      expect(disk.store(3).appliedZxid).toBe(0);
    });
  });

  describe('range over applies at every stage of durability', () => {
    /** The state a run of unconditional writes makes: what range must list. */
    class Model {
      readonly entries = new Map<string, PlainEntry>();
      apply(store: StateStore, writes: readonly [string, string | null][]): void {
        for (const [key, value] of writes) {
          const zxid = nextZxid(store);
          const write: KvWrite = value === null ? del(key) : put(key, value);
          store.apply(zxid, write);
          if (value === null) this.entries.delete(key);
          else this.entries.set(key, { key, version: zxid, value: [...bytes(value)] });
        }
      }
      sorted(): PlainEntry[] {
        return [...this.entries.values()].sort((a, b) => compareKeys(a.key, b.key));
      }
    }

    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'é', '\uE000', '😀'];

    function expectRanges(store: StateStore, model: Model): void {
      const expected = model.sorted();
      expect(everything(store)).toEqual(expected);
      for (const key of keys) {
        const entry = model.entries.get(key);
        expect(store.get(key), key).toEqual(
          entry === undefined
            ? { status: 404 }
            : { status: 200, version: entry.version, value: expect.anything() },
        );
        expect(store.bytesOf(key)).toBe(
          entry === undefined ? 0 : Buffer.byteLength(key) + entry.value.length,
        );
      }
      expect(store.size).toBe(expected.length);
      const bounds = [...keys, 'a0', '\uFFFF'];
      for (const from of bounds) {
        for (const to of [...bounds, null]) {
          const inRange = expected.filter(
            ({ key }) => compareKeys(key, from) >= 0 && (to === null || compareKeys(key, to) < 0),
          );
          for (const limit of [0, 1, 2, 3, 100]) {
            const got = store.range(from, to, limit).map(({ key, version, value }) => ({
              key,
              version,
              value: [...value],
            }));
            expect(got, `range(${from}, ${to}, ${limit})`).toEqual(inRange.slice(0, limit));
          }
        }
      }
    }

    it('merges committed, released-in-flight and unreleased entries', async () => {
      const store = disks.open().store();
      const model = new Model();
      // Committed (and flushed).
      model.apply(store, [
        ['a', 'a1'],
        ['b', 'b1'],
        ['c', 'c1'],
        ['d', 'd1'],
        ['é', 'é1'],
        ['h', 'h1'],
      ]);
      store.release(store.appliedZxid);
      await checkpointed(store);
      // Released, the commit not finished (no await from here on).
      model.apply(store, [
        ['b', 'b2'],
        ['c', null],
        ['e', 'e2'],
        ['\uE000', 'p2'],
        ['h', null],
      ]);
      store.release(store.appliedZxid);
      // Not released.
      model.apply(store, [
        ['a', 'a3'],
        ['d', null],
        ['e', 'e3'],
        ['f', 'f3'],
        ['😀', 's3'],
        ['é', null],
        ['h', 'h3'],
        ['g', 'g3'],
        ['g', null],
      ]);
      expectRanges(store, model);
      // A second release while the first may still be committing.
      model.apply(store, [['c', 'c4']]);
      store.release(store.appliedZxid - 1);
      expectRanges(store, model);
      await checkpointed(store);
      expectRanges(store, model);
      store.release(store.appliedZxid);
      expectRanges(store, model);
      await checkpointed(store);
      expectRanges(store, model);
    });
  });
});

describe('StateStore restart (lmdb): a clean close', () => {
  const disks = stateDisks('lmdb');

  it('keeps every release, even one queued behind a commit under way', async () => {
    const disk = disks.open();
    const store = disk.store();
    store.apply(z(1), put('a', 'one'));
    store.release(z(1));
    store.apply(z(2), put('b', 'two'));
    store.release(z(2)); // waits for the commit of z(1)
    store.apply(z(3), put('c', 'unreleased'));
    await disk.restart();
    expect(disk.store().appliedZxid).toBe(z(2));
    expect(contents(disk.store(), ['a', 'b', 'c'])).toEqual({
      a: [z(1), 'one'],
      b: [z(2), 'two'],
      c: 404,
    });
  });
});
