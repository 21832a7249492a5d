import { hashTag } from '../bootstrap/lookup-table.js';
import type { Zxid } from '../kv/zxid.js';
import { parseCursor } from '../watch/watch-cursor.js';
import { filterProblem } from '../watch/watch-filter.js';
import { WATCH_MAX_WAIT_MS, type WatchFilter } from '../watch/watch-port.js';
import type { ClusterStatus } from './cluster-status.js';
import type { HttpErrorCode } from './http-errors.js';
import { placementOf } from './key-placement.js';
import { validKey } from './kv-request.js';

/** `/watch`: SSE or one JSON batch (README, "Watching keys"). */
export const WATCH_ROUTE = '/watch';

/** How long a poll waits when the client names no `progress` (SSE) or `wait` (JSON). */
export const DEFAULT_WATCH_WAIT_MS = 30_000;

export type WatchQuery = Record<string, string | string[] | undefined>;

/** What one `/watch` request follows, and from where. */
export interface WatchPlan {
  readonly filter: WatchFilter;
  readonly tableVersion: number;
  /** Every group the filter needs, in increasing order. */
  readonly groups: readonly number[];
  /** Per group: the zxid the client has seen through; absent (no cursor): start now. */
  readonly from: ReadonlyMap<number, Zxid> | null;
  /** SSE `?progress=`: report a moved cursor after this long without events; null: never. */
  readonly progressMs: number | null;
  /** JSON `?wait=`: how long one long-poll batch waits for events. */
  readonly waitMs: number;
  /** `?list=1` (SSE only): the matching keys first, then `event: synced`, then changes. */
  readonly list: boolean;
}

export interface WatchRefusal {
  readonly refused: HttpErrorCode;
  readonly detail?: string;
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Seconds of a `?wait=`/`?progress=` as ms; null when it is not 0…300 (`min` excluded or not). */
export function secondsParam(text: string, allowZero: boolean): number | null {
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text)) return null;
  const ms = Math.round(Number(text) * 1000);
  if (ms > WATCH_MAX_WAIT_MS || (ms === 0 && !allowZero)) return null;
  return ms;
}

/** The filter of `?key=…&prefix=…`, or why it is not one. */
export function filterOfQuery(query: WatchQuery): WatchFilter | WatchRefusal {
  const keys = list(query['key']);
  const prefixes = list(query['prefix']);
  if (keys.some((key) => !validKey(key))) return { refused: 'BadKey' };
  const filter = { keys: [...new Set(keys)], prefixes: [...new Set(prefixes)] };
  const problem = filterProblem(filter);
  return problem === null ? filter : { refused: 'BadWatch', detail: problem };
}

/**
 * The groups `filter` needs in the table behind `status`: a key's group; for a prefix, every
 * group, unless the prefix holds a whole hash tag, whose group then holds every key under it.
 */
export function groupsOf(status: ClusterStatus, filter: WatchFilter): number[] | null {
  if (!status.formed) return null;
  const groups = new Set<number>();
  for (const key of filter.keys) groups.add(placementOf(status, key)!.group);
  for (const prefix of filter.prefixes) {
    if (hashTag(prefix) !== null) groups.add(placementOf(status, prefix)!.group);
    else for (const group of status.groups) groups.add(group.id);
  }
  return [...groups].sort((a, b) => a - b);
}

/**
 * Reads a `/watch` request: its filter, the groups it needs, its start (`Last-Event-ID`, which
 * a reconnecting EventSource sends, before `?cursor=`), and its timings. Client input: every
 * part is checked, and refused with the error that says what is wrong.
 */
export function planOf(
  query: WatchQuery,
  lastEventId: string | undefined,
  status: ClusterStatus,
): WatchPlan | WatchRefusal {
  const filter = filterOfQuery(query);
  if ('refused' in filter) return filter;
  const listParam = query['list'];
  if (listParam !== undefined && listParam !== '1' && listParam !== '0')
    return { refused: 'BadWatch', detail: 'list is 1 or 0' };
  const listFirst = listParam === '1';
  const progress = list(query['progress']);
  const wait = list(query['wait']);
  const cursors = list(query['cursor']);
  if (progress.length > 1 || wait.length > 1 || cursors.length > 1)
    return { refused: 'BadWatch', detail: 'progress, wait and cursor are given once each' };
  const progressMs = progress[0] === undefined ? null : secondsParam(progress[0], false);
  if (progressMs === null && progress[0] !== undefined)
    return { refused: 'BadWait', detail: 'progress is 0.001 to 300 seconds' };
  const waitMs = wait[0] === undefined ? DEFAULT_WATCH_WAIT_MS : secondsParam(wait[0], true);
  if (waitMs === null) return { refused: 'BadWait' };
  const groups = groupsOf(status, filter);
  if (groups === null || !status.formed)
    return { refused: 'Unavailable', detail: 'the cluster is not formed yet' };
  const text = lastEventId ?? cursors[0];
  if (text === undefined)
    return {
      filter,
      tableVersion: status.version,
      groups,
      from: null,
      progressMs,
      waitMs,
      list: listFirst,
    };
  if (listFirst) return { refused: 'BadWatch', detail: 'list=1 starts now: it takes no cursor' };
  const cursor = parseCursor(text.trim());
  if ('error' in cursor) return { refused: 'BadCursor', detail: cursor.error };
  if (cursor.tableVersion > status.version) {
    return {
      refused: 'Unavailable',
      detail: `this node has lookup table ${status.version}, the cursor ${cursor.tableVersion}`,
    };
  }
  if (cursor.tableVersion < status.version) {
    return {
      refused: 'CursorTableChanged',
      detail: `the cursor is of table ${cursor.tableVersion}, the cluster is at ${status.version}`,
    };
  }
  const missing = groups.filter((group) => !cursor.groups.has(group));
  if (missing.length > 0)
    return { refused: 'BadCursor', detail: `the cursor does not name group ${missing[0]}` };
  const from = new Map(groups.map((group) => [group, cursor.groups.get(group)!]));
  return {
    filter,
    tableVersion: status.version,
    groups,
    from,
    progressMs,
    waitMs,
    list: listFirst,
  };
}
