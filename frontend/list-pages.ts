import { LIST_ITEM_OVERHEAD_BYTES, MAX_LIST_PAGE_BYTES } from '../components/limits.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import type { KvRange, RangeItem, RangeResult } from '../kv/range.js';
import type { Zxid } from '../kv/zxid.js';
import { compareKeys } from '../state/write-rules.js';
import { formatCursor } from '../watch/watch-cursor.js';
import { formatListCursor } from './list-cursor.js';

/** What a listing page asks for, the same of every group. */
export interface ListQuery {
  readonly prefix: string;
  /** Only keys after this one; null: from the first. */
  readonly after: string | null;
  readonly limit: number;
  readonly keysOnly: boolean;
  readonly consistency: 'linearizable' | 'stale';
}

/** One group's part of a page as its replica answered it. */
export interface GroupPart {
  readonly group: number;
  /** The zxid the group was read at. */
  readonly zxid: Zxid;
  readonly result: RangeResult;
}

export interface ListPage {
  readonly items: readonly RangeItem[];
  /** Where the next page starts; null when this page ends the listing. */
  readonly next: string | null;
  /**
   * The watch cursor (watch/watch-cursor.ts) of the earliest zxid each group was read at, over
   * this page and those before it (carried in the cursor): a watch from there misses no change
   * the listing could have missed (it may repeat some; drop those at or below an item's version).
   */
  readonly revision: string;
  /** Those zxids, by group. */
  readonly readAt: ReadonlyMap<number, Zxid>;
  /** The last item's key when there is a next page (for a caller that pages on by itself). */
  readonly lastKey: string | null;
}

/** Asks one group for its part; resolves with the replica's answer (or the overlay's 503/504). */
export type AskGroup = (
  range: KvRange,
) => Promise<{ readonly outcome: KvOutcome; readonly zxid: Zxid }>;

/**
 * One page of a listing: every group asked at once for up to `limit` keys after the cursor,
 * then merged in key order. A group's part that was cut short (`more`) stops the page at its
 * last key, as further keys of that group were not read; every other group's keys up to there
 * all were, so no key is skipped. Each part is linearizable at its own read point; the page is
 * not one snapshot of all groups. A group that fails fails the page (its outcome is returned).
 */
export async function listPage(
  ask: AskGroup,
  tableVersion: number,
  groups: readonly number[],
  query: ListQuery,
  earlier: ReadonlyMap<number, Zxid> = new Map(),
): Promise<{ readonly page: ListPage } | { readonly failed: KvOutcome }> {
  const answers = await Promise.all(
    groups.map(async (group) => {
      const range: KvRange = { op: 'range', group, ...query, maxBytes: MAX_LIST_PAGE_BYTES };
      return { group, ...(await ask(range)) };
    }),
  );
  const parts: GroupPart[] = [];
  for (const { group, outcome, zxid } of answers) {
    if (outcome.status !== 200 || outcome.range === undefined) {
      return {
        failed:
          outcome.status === 200 ? { status: 503, reason: 'a replica sent no range' } : outcome,
      };
    }
    // A part cut short with nothing in it would stop the listing for good (a hostile peer).
    if (outcome.range.more && outcome.range.items.length === 0)
      return { failed: { status: 503, reason: `group ${group} sent an empty partial range` } };
    parts.push({ group, zxid, result: outcome.range });
  }
  return { page: mergeParts(tableVersion, parts, query, earlier) };
}

/** The page that `parts` (each sorted, of disjoint groups) make: see `listPage`. */
export function mergeParts(
  tableVersion: number,
  parts: readonly GroupPart[],
  query: ListQuery,
  earlier: ReadonlyMap<number, Zxid> = new Map(),
): ListPage {
  let cut: string | null = null;
  for (const { result } of parts) {
    const last = result.items.at(-1);
    if (result.more && last !== undefined && (cut === null || compareKeys(last.key, cut) < 0))
      cut = last.key;
  }
  const candidates = parts
    .flatMap((part) => part.result.items)
    // A peer's items are checked for order only: keep what this listing asked for.
    .filter(
      ({ key }) =>
        key.startsWith(query.prefix) &&
        (query.after === null || compareKeys(key, query.after) > 0) &&
        (cut === null || compareKeys(key, cut) <= 0),
    )
    .sort((a, b) => compareKeys(a.key, b.key));
  const items: RangeItem[] = [];
  let bytes = 0;
  let full = false;
  for (const item of candidates) {
    if (items.length > 0 && item.key === items.at(-1)!.key) continue;
    const itemBytes =
      Buffer.byteLength(item.key, 'utf8') +
      (item.value?.byteLength ?? 0) +
      LIST_ITEM_OVERHEAD_BYTES;
    full =
      items.length === query.limit || (items.length > 0 && bytes + itemBytes > MAX_LIST_PAGE_BYTES);
    if (full) break;
    items.push(item);
    bytes += itemBytes;
  }
  const more = cut !== null || full;
  const last = items.at(-1);
  const lastKey = more && last !== undefined ? last.key : null;
  const readAt = new Map(
    parts.map((p) => [p.group, Math.min(p.zxid, earlier.get(p.group) ?? p.zxid)]),
  );
  const revision = formatCursor({ tableVersion, groups: readAt });
  return {
    items,
    next: lastKey === null ? null : formatListCursor({ tableVersion, key: lastKey, readAt }),
    revision,
    readAt,
    lastKey,
  };
}
