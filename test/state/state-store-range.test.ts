import { describe, expect, it } from 'vitest';
import { LIST_ITEM_OVERHEAD_BYTES } from '../../components/limits.js';
import { applyDeleteRange, readRange } from '../../state/range-reads.js';
import type { StateStore } from '../../state/state-store.js';
import { STATE_STORE_KINDS } from './fixtures/state-stores.js';
import { stateDisks } from './fixtures/state-stores.js';
import { bytes, put, z } from './fixtures/writes.js';

const all = { after: null, limit: 100, maxBytes: 1 << 20, keysOnly: false } as const;
const keys = (result: { items: readonly { key: string }[] }) => result.items.map((i) => i.key);

/** Prefix range reads and delete batches (state/range-reads.ts), on both stores. */
describe.each(STATE_STORE_KINDS)('range reads (%s)', (kind) => {
  const disks = stateDisks(kind);

  /** Keys in UTF-8 byte order: a surrogate pair (U+10000) sorts after U+FFFF, unlike UTF-16. */
  function seeded(): StateStore {
    const store = disks.open().store();
    const names = ['a', 'p/\u{10000}', 'p/\uffff', 'p/a', 'p/b', 'p/b/c', 'p0', 'q'];
    names.forEach((key, i) => store.apply(z(i + 1), put(key, `v${i}`)));
    return store;
  }

  it('lists the keys with a prefix in UTF-8 byte order, after a key, within a limit', () => {
    const store = seeded();
    const first = readRange(store, { ...all, prefix: 'p/' });
    expect(keys(first)).toEqual(['p/a', 'p/b', 'p/b/c', 'p/\uffff', 'p/\u{10000}']);
    expect(first.more).toBe(false);
    const page = readRange(store, { ...all, prefix: 'p/', after: 'p/a', limit: 2 });
    expect(keys(page)).toEqual(['p/b', 'p/b/c']);
    expect(page.more).toBe(true);
    const last = readRange(store, { ...all, prefix: 'p/', after: 'p/b/c', limit: 2 });
    expect(keys(last)).toEqual(['p/\uffff', 'p/\u{10000}']);
    expect(last.more).toBe(false);
    expect(keys(readRange(store, { ...all, prefix: '' }))).toHaveLength(8);
    expect(readRange(store, { ...all, prefix: 'zz' }).items).toEqual([]);
  });

  it('stops at the byte budget, but always takes one item; keysOnly leaves values out', () => {
    const store = seeded();
    const one = 'p/a'.length + 2 + LIST_ITEM_OVERHEAD_BYTES;
    const page = readRange(store, { ...all, prefix: 'p/', maxBytes: one + 1 });
    expect(keys(page)).toEqual(['p/a']);
    expect(page.more).toBe(true);
    expect(keys(readRange(store, { ...all, prefix: 'p/', maxBytes: 1 }))).toEqual(['p/a']);
    const bare = readRange(store, { ...all, prefix: 'p/', keysOnly: true });
    expect(bare.items[0]).toEqual({ key: 'p/a', version: z(4) });
    expect(readRange(store, { ...all, prefix: 'p/' }).items[0]?.value).toEqual(bytes('v3'));
  });

  it('a delete batch deletes the first keys with the prefix at one zxid, as a transaction', () => {
    const store = seeded();
    const outcome = applyDeleteRange(store, z(9), {
      op: 'deleteRange',
      group: 0,
      prefix: 'p/',
      limit: 3,
    });
    expect(outcome).toMatchObject({ status: 200, version: z(9) });
    expect(outcome.status === 200 && outcome.txn?.results.length).toBe(3);
    expect(keys(readRange(store, { ...all, prefix: 'p' }))).toEqual([
      'p/\uffff',
      'p/\u{10000}',
      'p0',
    ]);
    expect(store.appliedZxid).toBe(z(9));
    // A batch that finds nothing still takes its zxid: every logged entry is applied.
    applyDeleteRange(store, z(10), { op: 'deleteRange', group: 0, prefix: 'none/', limit: 3 });
    expect(store.appliedZxid).toBe(z(10));
  });

  it('reads many keys in bounded fetches and still finds every one', () => {
    const store = disks.open().store();
    for (let i = 0; i < 300; i++)
      store.apply(z(i + 1), put(`k/${String(i).padStart(3, '0')}`, 'x'));
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = readRange(store, { ...all, prefix: 'k/', after, limit: 70 });
      seen.push(...keys(page));
      if (!page.more) break;
      after = page.items.at(-1)!.key;
    }
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(300);
  });
});
