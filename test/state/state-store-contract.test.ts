import { AssertionError } from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_BYTES } from '../../components/limits.js';
import type { KvWrite } from '../../kv/kv-operation.js';
import type { Zxid } from '../../kv/zxid.js';
import type { StateStore } from '../../state/state-store.js';
import { STATE_STORE_KINDS, checkpointed, stateDisks } from './fixtures/state-stores.js';
import { bytes, contents, del, everything, put, summary, text, z } from './fixtures/writes.js';

/** What every StateStore does with applies and reads (state/state-store.ts). */
describe.each(STATE_STORE_KINDS)('StateStore contract (%s)', (kind) => {
  const disks = stateDisks(kind);
  const fresh = (): StateStore => disks.open().store();

  describe('put, get, delete', () => {
    it('starts empty at zxid 0', () => {
      const store = fresh();
      expect(store.appliedZxid).toBe(0);
      expect(store.durableZxid).toBe(0);
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
      expect(store.get('a')).toEqual({ status: 404 });
      expect(store.range('a', null, 10)).toEqual([]);
    });

    it('put stores the value with the write zxid as its version', () => {
      const store = fresh();
      expect(store.apply(z(1), put('a', 'one'))).toEqual({ status: 200, version: z(1) });
      expect(store.appliedZxid).toBe(z(1));
      expect(contents(store, ['a'])).toEqual({ a: [z(1), 'one'] });
      expect(store.size).toBe(1);
    });

    it('overwriting gives the new zxid as version and the new value', () => {
      const store = fresh();
      store.apply(z(1), put('a', 'one'));
      store.apply(z(2), put('b', 'bee'));
      expect(store.apply(z(3, 2), put('a', 'two'))).toEqual({ status: 200, version: z(3, 2) });
      expect(contents(store, ['a', 'b', 'c'])).toEqual({
        a: [z(3, 2), 'two'],
        b: [z(2), 'bee'],
        c: 404,
      });
      expect(store.size).toBe(2);
    });

    it('delete removes the key and answers 204', () => {
      const store = fresh();
      store.apply(z(1), put('a', 'one'));
      store.apply(z(2), put('b', 'bee'));
      expect(store.apply(z(3), del('a'))).toEqual({ status: 204 });
      expect(store.get('a')).toEqual({ status: 404 });
      expect(store.size).toBe(1);
      expect(store.appliedZxid).toBe(z(3));
      // A later put starts afresh with the new version.
      expect(store.apply(z(4), put('a', 'again'))).toEqual({ status: 200, version: z(4) });
    });

    it('delete of an absent key answers 404 and still advances appliedZxid', () => {
      const store = fresh();
      store.apply(z(1), put('b', 'bee'));
      const before = store.digest();
      expect(store.apply(z(2), del('a'))).toEqual({ status: 404 });
      expect(store.appliedZxid).toBe(z(2));
      expect(store.digest()).toBe(before);
      expect(store.size).toBe(1);
    });

    it('keys are distinct strings (case, unicode, a prefix, the longest key)', () => {
      const store = fresh();
      const longest = 'é'.repeat(512); // MAX_KEY_BYTES of UTF-8
      store.apply(z(1), put('ключ', 'unicode'));
      store.apply(z(2), put('A', 'upper'));
      store.apply(z(3), put('ab', 'longer'));
      store.apply(z(4), put(longest, 'longest'));
      expect(contents(store, ['ключ', 'A', 'a', 'ab', longest, longest.slice(1)])).toEqual({
        ключ: [z(1), 'unicode'],
        A: [z(2), 'upper'],
        a: 404,
        ab: [z(3), 'longer'],
        [longest]: [z(4), 'longest'],
        [longest.slice(1)]: 404,
      });
    });

    it('keeps binary and empty values byte for byte, and a value read stays as it was', () => {
      const store = fresh();
      const value = new Uint8Array([0, 255, 1, 128, 0xc1, 0x92]);
      store.apply(z(1), { op: 'put', key: 'bin', value });
      store.apply(z(2), put('empty', ''));
      store.apply(z(3), put('other', new Uint8Array(6).fill(7)));
      const got = store.get('bin');
      expect(got.status).toBe(200);
      // Later reads must not reuse the buffer an earlier read returned.
      store.get('other');
      store.range('', null, 10);
      expect([...(got as { value: Uint8Array }).value]).toEqual([...value]);
      expect(store.get('empty')).toMatchObject({ status: 200, version: z(2) });
      expect((store.get('empty') as { value: Uint8Array }).value.byteLength).toBe(0);
    });
  });

  describe('conditions', () => {
    /** A store with a@z(1)="one", b@z(2)="bee", applied at z(2). */
    function seeded(): StateStore {
      const store = fresh();
      store.apply(z(1), put('a', 'one'));
      store.apply(z(2), put('b', 'bee'));
      return store;
    }

    /**
     * Applies a write that must fail with 412, carrying the key's current version (null when
     * absent), and checks nothing but appliedZxid changed.
     */
    function expectPreconditionFailed(store: StateStore, zxid: Zxid, write: KvWrite): void {
      const keys = ['a', 'b', 'c'];
      const before = contents(store, keys);
      const { size, bytes: counted, digest } = summary(store);
      const held = store.get(write.key);
      const current = held.status === 200 ? held.version : null;
      expect(store.apply(zxid, write)).toEqual({ status: 412, current });
      expect(contents(store, keys)).toEqual(before);
      expect(summary(store)).toEqual({ appliedZxid: zxid, size, bytes: counted, digest });
    }

    it('If-Match "<v>" succeeds on the exact current version', () => {
      const store = seeded();
      expect(store.apply(z(3), put('a', 'two', { ifMatch: z(1) }))).toEqual({
        status: 200,
        version: z(3),
      });
      expect(contents(store, ['a'])).toEqual({ a: [z(3), 'two'] });
    });

    it('If-Match "<v>" fails on a stale, foreign or unknown version', () => {
      const store = seeded();
      store.apply(z(3), put('a', 'two'));
      expectPreconditionFailed(store, z(4), put('a', 'x', { ifMatch: z(1) })); // stale
      expectPreconditionFailed(store, z(5), put('a', 'x', { ifMatch: z(2) })); // b's version
      expectPreconditionFailed(store, z(6), put('a', 'x', { ifMatch: z(3) + 1 }));
      expectPreconditionFailed(store, z(7), put('a', 'x', { ifMatch: z(3, 2) }));
      // The exact one still works afterwards: failures did not touch the version.
      expect(store.apply(z(8), put('a', 'ok', { ifMatch: z(3) }))).toEqual({
        status: 200,
        version: z(8),
      });
    });

    it('If-Match "<v>" on an absent key fails', () => {
      expectPreconditionFailed(seeded(), z(3), put('c', 'x', { ifMatch: z(1) }));
    });

    it('If-Match * succeeds only when the key is present', () => {
      const store = seeded();
      expectPreconditionFailed(store, z(3), put('c', 'x', { ifMatch: '*' }));
      expect(store.apply(z(4), put('a', 'star', { ifMatch: '*' }))).toEqual({
        status: 200,
        version: z(4),
      });
      expect(contents(store, ['a'])).toEqual({ a: [z(4), 'star'] });
    });

    it('If-None-Match * succeeds only when the key is absent', () => {
      const store = seeded();
      expectPreconditionFailed(store, z(3), put('a', 'x', { ifNoneMatch: '*' }));
      expect(store.apply(z(4), put('c', 'new', { ifNoneMatch: '*' }))).toEqual({
        status: 200,
        version: z(4),
      });
      expect(contents(store, ['c'])).toEqual({ c: [z(4), 'new'] });
      // Now present: a second create fails.
      expectPreconditionFailed(store, z(5), put('c', 'again', { ifNoneMatch: '*' }));
    });

    it('If-None-Match * succeeds again after the key is deleted', () => {
      const store = seeded();
      store.apply(z(3), del('a'));
      expect(store.apply(z(4), put('a', 'fresh', { ifNoneMatch: '*' }))).toEqual({
        status: 200,
        version: z(4),
      });
    });

    it('conditional DELETE: If-Match exact version deletes, a wrong one gives 412', () => {
      const store = seeded();
      expectPreconditionFailed(store, z(3), del('a', { ifMatch: z(2) }));
      expectPreconditionFailed(store, z(4), del('a', { ifNoneMatch: '*' }));
      expect(store.apply(z(5), del('a', { ifMatch: z(1) }))).toEqual({ status: 204 });
      expect(store.get('a')).toEqual({ status: 404 });
      expect(store.apply(z(6), del('b', { ifMatch: '*' }))).toEqual({ status: 204 });
      expect(store.size).toBe(0);
      expect(store.bytes).toBe(0);
    });

    it('DELETE of an absent key: 404 unconditionally or with If-None-Match *, 412 with If-Match', () => {
      const store = seeded();
      expect(store.apply(z(3), del('c'))).toEqual({ status: 404 });
      expect(store.apply(z(4), del('c', { ifNoneMatch: '*' }))).toEqual({ status: 404 });
      expectPreconditionFailed(store, z(5), del('c', { ifMatch: '*' }));
      expectPreconditionFailed(store, z(6), del('c', { ifMatch: z(1) }));
      expect(store.appliedZxid).toBe(z(6));
    });

    it('conditions see writes not yet released and released ones alike', () => {
      const store = seeded();
      store.release(z(1)); // a@z(1) released, b@z(2) not
      expect(store.apply(z(3), put('b', 'b2', { ifMatch: z(2) }))).toEqual({
        status: 200,
        version: z(3),
      });
      expect(store.apply(z(4), del('a', { ifMatch: z(1) }))).toEqual({ status: 204 });
      expect(store.apply(z(5), put('a', 'back', { ifNoneMatch: '*' }))).toEqual({
        status: 200,
        version: z(5),
      });
      expect(contents(store, ['a', 'b'])).toEqual({ a: [z(5), 'back'], b: [z(3), 'b2'] });
    });
  });

  describe('apply order', () => {
    it('rejects a zxid equal to or below the applied one, changing nothing', () => {
      const store = fresh();
      store.apply(z(5), put('a', 'one'));
      const before = summary(store);
      expect(() => store.apply(z(5), put('a', 'two'))).toThrow(AssertionError);
      expect(() => store.apply(z(4), put('b', 'two'))).toThrow(AssertionError);
      expect(() => store.apply(0, del('a'))).toThrow(AssertionError);
      expect(summary(store)).toEqual(before);
      expect(contents(store, ['a', 'b'])).toEqual({ a: [z(5), 'one'], b: 404 });
    });

    it('a write whose condition failed still uses up its zxid', () => {
      const store = fresh();
      store.apply(z(1), put('a', 'one', { ifMatch: '*' })); // 412, applied = z(1)
      expect(store.appliedZxid).toBe(z(1));
      expect(() => store.apply(z(1), put('a', 'one'))).toThrow(AssertionError);
    });
  });

  describe('digest', () => {
    /** A store with `writes` applied at z(1), z(2), …, some of them released. */
    function build(writes: readonly KvWrite[]): StateStore {
      const store = fresh();
      writes.forEach((write, i) => store.apply(z(i + 1), write));
      store.release(z(Math.ceil(writes.length / 2)));
      return store;
    }

    it('is equal for equal contents regardless of insertion order', () => {
      const first = build([put('a', 'x'), put('b', 'y'), put('a', 'z')]);
      const second = build([put('b', 'old'), put('b', 'y'), put('a', 'z')]);
      expect(contents(first, ['a', 'b'])).toEqual(contents(second, ['a', 'b']));
      expect(first.digest()).toBe(second.digest());
    });

    it('does not depend on the applied zxid, only on contents', () => {
      const first = build([put('a', 'x')]);
      const second = build([put('a', 'x'), put('a', 'no', { ifNoneMatch: '*' }), del('missing')]);
      expect(second.appliedZxid).not.toBe(first.appliedZxid);
      expect(second.digest()).toBe(first.digest());
      expect(build([del('missing')]).digest()).toBe(fresh().digest());
    });

    it('differs for different contents', () => {
      const digests = [
        fresh().digest(),
        build([put('a', 'x')]).digest(),
        build([put('a', 'y')]).digest(), // different value
        build([del('b'), put('a', 'x')]).digest(), // different version
        build([put('b', 'x')]).digest(), // different key
        build([put('a', 'x'), put('b', 'x')]).digest(), // extra key
        build([put('ab', 'c')]).digest(), // framing: key/value boundary moved
        build([put('a', 'bc')]).digest(),
        build([put('a', '')]).digest(),
      ];
      expect(new Set(digests).size).toBe(digests.length);
    });

    it('returns to the earlier digest when the contents return', () => {
      const store = fresh();
      store.apply(z(1), put('a', 'x'));
      const before = store.digest();
      store.apply(z(2), put('b', 'y'));
      store.release(z(2));
      expect(store.digest()).not.toBe(before);
      store.apply(z(3), del('b'));
      expect(store.digest()).toBe(before);
    });
  });

  describe('the bytes the quota counts', () => {
    it('sums key (UTF-8) and value bytes as entries are put, overwritten and deleted', () => {
      const store = fresh();
      store.apply(z(1), put('a', 'xyz'));
      expect(store.bytes).toBe(4);
      store.apply(z(2), put('é', '12345')); // a 2-byte key
      expect(store.bytes).toBe(4 + 7);
      expect(store.bytesOf('é')).toBe(7);
      store.release(z(2));
      store.apply(z(3), put('a', 'x')); // shrinks
      expect(store.bytes).toBe(2 + 7);
      expect(store.bytesOf('a')).toBe(2);
      store.apply(z(4), put('a', 'longer', { ifMatch: 99 })); // 412: nothing changes
      expect(store.bytes).toBe(2 + 7);
      store.apply(z(5), del('é'));
      store.apply(z(6), del('missing'));
      expect(store.bytes).toBe(2);
      expect(store.bytesOf('é')).toBe(0);
      expect(store.bytesOf('missing')).toBe(0);
      expect(store.size).toBe(1);
    });

    it('counts and checks conditions against flushed entries, small and large, alike', async () => {
      // Once flushed, a write finds its key's version and size in the store itself (in lmdb:
      // its reused read buffer, or a view of the map for a large value), not among the changes
      // it holds in memory.
      const store = fresh();
      const large = new Uint8Array(MAX_VALUE_BYTES).fill(7);
      store.apply(z(1), put('small', 'xyz'));
      store.apply(z(2), put('large', large));
      store.apply(z(3), put('gone', 'q'));
      store.release(z(3));
      await checkpointed(store);
      expect(store.bytes).toBe(5 + 3 + (5 + MAX_VALUE_BYTES) + 5);
      expect(store.bytesOf('large')).toBe(5 + MAX_VALUE_BYTES);
      expect(store.bytesOf('small')).toBe(8);
      expect(store.apply(z(4), put('large', 'now small', { ifMatch: z(1) }))).toEqual({
        status: 412,
        current: z(2),
      });
      expect(store.apply(z(5), put('large', 'now small', { ifMatch: z(2) }))).toEqual({
        status: 200,
        version: z(5),
      });
      expect(store.apply(z(6), put('small', 'abcdef', { ifMatch: z(1) }))).toEqual({
        status: 200,
        version: z(6),
      });
      expect(store.apply(z(7), del('gone', { ifMatch: z(3) }))).toEqual({ status: 204 });
      expect(store.apply(z(8), put('small', 'no', { ifNoneMatch: '*' }))).toEqual({
        status: 412,
        current: z(6),
      });
      expect(store.bytes).toBe(5 + 9 + (5 + 6));
      expect(store.size).toBe(2);
      expect(contents(store, ['small', 'large', 'gone'])).toEqual({
        small: [z(6), 'abcdef'],
        large: [z(5), 'now small'],
        gone: 404,
      });
    });

    it('counts 4 bytes for a character above U+FFFF', () => {
      const store = fresh();
      store.apply(z(1), put('😀', bytes('v')));
      expect(store.bytes).toBe(5);
      expect(store.bytesOf('😀')).toBe(5);
    });
  });

  describe.each(['not released', 'flushed'])('range, entries %s', (stage) => {
    /**
     * In UTF-8 byte order. UTF-16 order differs: 😀 (D83D DE00) sorts before U+E000 there, and
     * after it in code points and bytes.
     */
    const ordered = [
      'a',
      'a\u0000',
      'ab',
      'b',
      'z',
      'é',
      'é'.repeat(512), // the longest key: MAX_KEY_BYTES of UTF-8
      'ключ',
      '\uE000',
      '\uFFFD',
      '\uFFFF',
      '𝄞x',
      '😀',
    ];

    /** A store with every key of `ordered`, in memory only or in lmdb (the stage). */
    async function filled(): Promise<StateStore> {
      const store = fresh();
      // Inserted in UTF-16 order, which is not the order asked for.
      [...ordered].sort().forEach((key, i) => store.apply(z(i + 1), put(key, `v-${key}`)));
      if (stage === 'flushed') {
        store.release(store.appliedZxid);
        await checkpointed(store);
      }
      return store;
    }

    it('lists every key in UTF-8 byte order, not UTF-16 order', async () => {
      const store = await filled();
      expect(store.range('', null, 100).map(({ key }) => key)).toEqual(ordered);
      expect([...ordered].sort()).not.toEqual(ordered);
    });

    it('gives versions and values with the keys', async () => {
      const store = await filled();
      const [entry] = store.range('é', null, 1);
      expect(entry!.key).toBe('é');
      expect(entry!.version).toBe(z([...ordered].sort().indexOf('é') + 1));
      expect(text(entry!.value)).toBe('v-é');
    });

    it('includes `from`, excludes `to`, and stops at `limit`', async () => {
      const store = await filled();
      const keys = (from: string, to: string | null, limit: number): string[] =>
        store.range(from, to, limit).map(({ key }) => key);
      expect(keys('ab', 'z', 100)).toEqual(['ab', 'b']);
      expect(keys('aa', 'zz', 100)).toEqual(['ab', 'b', 'z']);
      expect(keys('\uE000', '😀', 100)).toEqual(['\uE000', '\uFFFD', '\uFFFF', '𝄞x']);
      expect(keys('𝄞', null, 100)).toEqual(['𝄞x', '😀']);
      expect(keys('\uFFFF', '\uFFFF', 100)).toEqual([]);
      expect(keys('z', 'b', 100)).toEqual([]);
      expect(keys('a', null, 3)).toEqual(['a', 'a\u0000', 'ab']);
      expect(keys('a', null, 0)).toEqual([]);
      expect(keys('😀\u0000', null, 10)).toEqual([]);
      for (let i = 0; i < ordered.length; i++) {
        for (let j = i; j < ordered.length; j++) {
          expect(keys(ordered[i]!, ordered[j]!, 100)).toEqual(ordered.slice(i, j));
          expect(keys(ordered[i]!, null, j - i)).toEqual(ordered.slice(i, j));
        }
      }
    });

    it('leaves out deleted keys and shows overwritten ones at their latest', async () => {
      const store = await filled();
      const applied = store.appliedZxid;
      store.apply(applied + 1, del('b'));
      store.apply(applied + 2, put('ab', 'new'));
      store.apply(applied + 3, del('😀'));
      const all = everything(store);
      expect(all.map(({ key }) => key)).toEqual(ordered.filter((k) => k !== 'b' && k !== '😀'));
      expect(all.find(({ key }) => key === 'ab')).toEqual({
        key: 'ab',
        version: applied + 2,
        value: [...bytes('new')],
      });
    });
  });
});
