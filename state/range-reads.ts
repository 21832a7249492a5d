import { LIST_ITEM_OVERHEAD_BYTES } from '../components/limits.js';
import type { KvOutcome, KvReadOperation } from '../kv/kv-operation.js';
import type { KvDeleteRange, KvRange, RangeItem, RangeResult } from '../kv/range.js';
import type { Zxid } from '../kv/zxid.js';
import type { StateStore } from './state-store.js';
import { compareKeys } from './write-rules.js';

/** Entries fetched from the store at first; later fetches are sized by the largest seen. */
const FIRST_FETCH_COUNT = 16;
const MAX_FETCH_COUNT = 1_024;

/**
 * The keys of `state` that start with `prefix` and follow `after`, in key order, at most
 * `limit` and, but for the first, within `maxBytes` (key, value unless `keysOnly`, and a fixed
 * overhead per item). The store is read in small fetches sized so that what is held at once
 * stays near `maxBytes`: a handler never walks or copies the whole state.
 */
export function readRange(
  state: Pick<StateStore, 'range'>,
  range: Pick<KvRange, 'prefix' | 'after' | 'limit' | 'maxBytes' | 'keysOnly'>,
): RangeResult {
  const { prefix, after, limit, maxBytes, keysOnly } = range;
  // The key right after `after` in UTF-8 byte order is `after` followed by a zero byte.
  let from = after === null || compareKeys(after, prefix) < 0 ? prefix : `${after}\u0000`;
  const items: RangeItem[] = [];
  let bytes = 0;
  let largest = 0;
  let fetch = FIRST_FETCH_COUNT;
  for (;;) {
    const asked = Math.min(fetch, limit - items.length + 1);
    const entries = state.range(from, null, asked);
    for (const entry of entries) {
      if (!entry.key.startsWith(prefix)) return { items, more: false };
      const itemBytes =
        Buffer.byteLength(entry.key, 'utf8') +
        (keysOnly ? 0 : entry.value.byteLength) +
        LIST_ITEM_OVERHEAD_BYTES;
      if (items.length === limit || (items.length > 0 && bytes + itemBytes > maxBytes))
        return { items, more: true };
      items.push(
        keysOnly
          ? { key: entry.key, version: entry.version }
          : { key: entry.key, version: entry.version, value: entry.value },
      );
      bytes += itemBytes;
      largest = Math.max(largest, entry.key.length * 3 + entry.value.byteLength);
    }
    const last = entries.at(-1);
    if (last === undefined || entries.length < asked) return { items, more: false };
    from = `${last.key}\u0000`;
    fetch = Math.max(1, Math.min(MAX_FETCH_COUNT, Math.floor(maxBytes / Math.max(largest, 1))));
  }
}

/**
 * A logged prefix delete batch at `zxid`: the first `limit` keys with the prefix, as the state
 * holds them right before it, each deleted by the normal write rule at this one zxid (a
 * transaction of deletes, so every replica deletes the same keys and a watcher sees one step).
 */
export function applyDeleteRange(state: StateStore, zxid: Zxid, batch: KvDeleteRange): KvOutcome {
  const { items } = readRange(state, {
    prefix: batch.prefix,
    after: null,
    limit: batch.limit,
    maxBytes: Number.MAX_SAFE_INTEGER,
    keysOnly: true,
  });
  const success = items.map(({ key }) => ({ op: 'delete' as const, key }));
  return state.applyTxn(zxid, { op: 'txn', compare: [], success, failure: [] });
}

/** A read served from `state` as it is now: a get, or a range read at the applied zxid. */
export function serveRead(state: StateStore, read: KvReadOperation): KvOutcome {
  if (read.op === 'get') return state.get(read.key);
  return { status: 200, version: state.appliedZxid, range: readRange(state, read) };
}
