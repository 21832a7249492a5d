import { describe, expect, it } from 'vitest';
import type { KvTxn, TxnOp } from '../../kv/txn.js';
import type { StateStore } from '../../state/state-store.js';
import { STATE_STORE_KINDS, checkpointed, stateDisks } from './fixtures/state-stores.js';
import { bytes, contents, put, summary, z } from './fixtures/writes.js';

const txn = (compare: [string, number][], success: TxnOp[], failure: TxnOp[] = []): KvTxn => ({
  op: 'txn',
  compare: compare.map(([key, version]) => ({ key, version })),
  success,
  failure,
});
const tput = (key: string, value: string): TxnOp => ({ op: 'put', key, value: bytes(value) });
const tdel = (key: string): TxnOp => ({ op: 'delete', key });
const tget = (key: string): TxnOp => ({ op: 'get', key });

/** Transactions (state/state-store-core.ts applyTransaction), on both stores. */
describe.each(STATE_STORE_KINDS)('StateStore transactions (%s)', (kind) => {
  const disks = stateDisks(kind);

  /** a@z(1)="one", b@z(2)="bee", applied at z(2). */
  function seeded(store: StateStore): StateStore {
    store.apply(z(1), put('a', 'one'));
    store.apply(z(2), put('b', 'bee'));
    return store;
  }

  it('when every compare holds, runs the success ops in order, every write at the one zxid', () => {
    const store = seeded(disks.open().store());
    const outcome = store.applyTxn(
      z(3),
      txn(
        [
          ['a', z(1)],
          ['c', 0],
        ],
        [tget('a'), tput('a', 'two'), tput('c', 'see'), tdel('b'), tdel('d'), tget('a')],
        [tput('x', 'never')],
      ),
    );
    expect(outcome).toMatchObject({ status: 200, version: z(3) });
    const result = outcome.status === 200 ? outcome.txn : undefined;
    expect(result?.succeeded).toBe(true);
    expect(
      result?.results.map((r) => ({ ...r, ...('value' in r ? { value: [...r.value!] } : {}) })),
    ).toEqual([
      { op: 'get', key: 'a', version: z(1), value: [...bytes('one')] },
      { op: 'put', key: 'a', version: z(3) },
      { op: 'put', key: 'c', version: z(3) },
      { op: 'delete', key: 'b', deleted: true },
      { op: 'delete', key: 'd', deleted: false },
      // A get after a put in the same branch sees the put.
      { op: 'get', key: 'a', version: z(3), value: [...bytes('two')] },
    ]);
    expect(contents(store, ['a', 'b', 'c', 'x'])).toEqual({
      a: [z(3), 'two'],
      b: 404,
      c: [z(3), 'see'],
      x: 404,
    });
    expect(store.size).toBe(2);
    expect(store.bytes).toBe(2 + 6); // "a"+"two", "c"+"see"
    expect(store.appliedZxid).toBe(z(3));
  });

  it('when a compare fails, runs the failure ops only, and changes nothing else', () => {
    const store = seeded(disks.open().store());
    const before = contents(store, ['a', 'b']);
    for (const [compare, zxid] of [
      [['a', z(2)], z(3)], // a stale version
      [['b', 0], z(4)], // "absent", but b is there
      [['nope', z(1)], z(5)], // a version of an absent key
    ] as const) {
      const outcome = store.applyTxn(
        zxid,
        txn(
          [
            ['a', z(1)],
            [compare[0], compare[1]],
          ],
          [tput('a', 'won')],
          [tget('b')],
        ),
      );
      expect(outcome).toMatchObject({
        status: 200,
        version: zxid,
        txn: { succeeded: false, results: [{ op: 'get', key: 'b', version: z(2) }] },
      });
      expect(contents(store, ['a', 'b'])).toEqual(before);
    }
    const { size, bytes: counted, digest } = summary(store);
    // With no failure branch: a logged no-op that still uses up its zxid.
    expect(store.applyTxn(z(6), txn([['a', 0]], [tdel('a')]))).toEqual({
      status: 200,
      version: z(6),
      txn: { succeeded: false, results: [] },
    });
    expect(summary(store)).toEqual({ appliedZxid: z(6), size, bytes: counted, digest });
  });

  it('reaches the disk as one applied zxid and reads back after a restart', async () => {
    const disk = disks.open();
    const store = seeded(disk.store());
    store.applyTxn(z(3), txn([], [tput('a', 'two'), tdel('b'), tput('c', 'see')]));
    store.apply(z(4), put('d', 'dee'));
    store.release(z(4));
    await checkpointed(store);
    const digest = store.digest();
    await disk.restart();
    const reopened = disk.store();
    expect(reopened.appliedZxid).toBe(z(4));
    expect(reopened.digest()).toBe(digest);
    expect(contents(reopened, ['a', 'b', 'c', 'd'])).toEqual({
      a: [z(3), 'two'],
      b: 404,
      c: [z(3), 'see'],
      d: [z(4), 'dee'],
    });
    expect(reopened.size).toBe(3);
  });

  it('rejects a zxid at or below the applied one', () => {
    const store = seeded(disks.open().store());
    expect(() => store.applyTxn(z(2), txn([], [tput('a', 'x')]))).toThrow();
    expect(contents(store, ['a'])).toEqual({ a: [z(1), 'one'] });
  });
});
