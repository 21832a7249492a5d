import { MAX_LIST_LIMIT_COUNT } from '../components/limits.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import type { Zxid } from '../kv/zxid.js';
import { compareKeys } from '../state/write-rules.js';
import type { WatchFilter } from '../watch/watch-port.js';
import { listPage, type AskGroup } from './list-pages.js';
import { valueFields } from './txn-request.js';

/** One page a `?list=1` watch listed: the keys of `prefix` in (after, through], read at `readAt`. */
interface ListedPage {
  readonly prefix: string;
  readonly after: string | null;
  /** Null: to the end of the prefix. */
  readonly through: string | null;
  readonly readAt: ReadonlyMap<number, Zxid>;
}

/**
 * What a `?list=1` watch listed, to start its changes from with nothing missed and nothing
 * twice: the stream starts at the earliest zxid any page read each group at, and leaves out a
 * change that a page covering its key had already read (its zxid at or below the page's).
 */
export class Listed {
  private readonly pages: ListedPage[] = [];

  add(page: ListedPage): void {
    this.pages.push(page);
  }

  /** Per group: the earliest zxid the listing read it at (the watch starts after it). */
  start(groups: readonly number[]): Map<number, Zxid> {
    const start = new Map<number, Zxid>();
    for (const group of groups) {
      const zxids = this.pages.flatMap((p) => p.readAt.get(group) ?? []);
      // Every group a watch needs is read by some page (the listing asks the same groups).
      if (zxids.length === 0) throw new Error(`group ${group} was not listed`);
      start.set(group, Math.min(...zxids));
    }
    return start;
  }

  covers(group: number, key: string, zxid: Zxid): boolean {
    return this.pages.some(
      (p) =>
        key.startsWith(p.prefix) &&
        (p.after === null || compareKeys(key, p.after) > 0) &&
        (p.through === null || compareKeys(key, p.through) <= 0) &&
        (p.readAt.get(group) ?? -1) >= zxid,
    );
  }
}

/**
 * Lists every key `filter` matches, page by page (each group's part linearizable), handing each
 * item to `write` (which waits for the client to take it); a key is listed as the prefix of
 * itself, keeping only the key. The pages, or the outcome of a group that failed.
 */
export async function listMatching(
  ask: AskGroup,
  tableVersion: number,
  filter: WatchFilter,
  groupsOf: (prefix: string, exact: boolean) => readonly number[],
  write: (item: object) => Promise<void>,
  closed: () => boolean,
): Promise<Listed | { readonly failed: KvOutcome }> {
  const listed = new Listed();
  const entries = [
    ...filter.prefixes.map((prefix) => ({ prefix, exact: false })),
    ...filter.keys.map((prefix) => ({ prefix, exact: true })),
  ];
  for (const { prefix, exact } of entries) {
    let after: string | null = null;
    do {
      // A key is the first of the keys it prefixes: one item tells whether it exists.
      const limit = exact ? 1 : MAX_LIST_LIMIT_COUNT;
      const query = { prefix, after, limit, keysOnly: false };
      const answer = await listPage(ask, tableVersion, groupsOf(prefix, exact), {
        ...query,
        consistency: 'linearizable',
      });
      if ('failed' in answer) return answer;
      const { page } = answer;
      listed.add({ prefix, after, through: page.lastKey, readAt: page.readAt });
      for (const item of page.items) {
        if (closed()) return listed;
        if (exact && item.key !== prefix) continue;
        const value = item.value === undefined ? {} : valueFields(item.value);
        await write({ key: item.key, version: String(item.version), ...value });
      }
      after = exact ? null : page.lastKey;
    } while (after !== null && !closed());
  }
  return listed;
}
