import type { Zxid } from '../kv/zxid.js';

/**
 * Where a watcher stands: for each group it follows, the zxid of the last change it has seen
 * (or the point it started from), and the lookup-table version those groups belong to. It is
 * the whole of a watcher's state, so any node can resume it: per group, every change after it.
 *
 * Text form (SSE `id:`, `Last-Event-ID`, `?cursor=`): `t<table>;<group>=<zxid>,…`, groups in
 * increasing order, zxids in decimal, e.g. `t1;0=4294967338,1=8589934601`.
 */
export interface WatchCursor {
  readonly tableVersion: number;
  readonly groups: ReadonlyMap<number, Zxid>;
}

const MAX_CURSOR_TEXT = 4096;
const MAX_GROUPS = 256;
const CURSOR_PATTERN = /^t(\d{1,10});((?:\d{1,5}=\d{1,16})(?:,\d{1,5}=\d{1,16})*)?$/;

export function formatCursor(cursor: WatchCursor): string {
  const groups = [...cursor.groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([group, zxid]) => `${group}=${zxid}`)
    .join(',');
  return `t${cursor.tableVersion};${groups}`;
}

/** The cursor `text` names, or why it names none (client input: never trusted). */
export function parseCursor(text: string): WatchCursor | { readonly error: string } {
  if (text.length > MAX_CURSOR_TEXT) return { error: 'cursor too long' };
  const match = CURSOR_PATTERN.exec(text);
  if (match === null) return { error: 'cursor is not t<table>;<group>=<zxid>,…' };
  const tableVersion = Number(match[1]);
  const groups = new Map<number, Zxid>();
  for (const part of match[2] === undefined ? [] : match[2].split(',')) {
    const [group, zxid] = part.split('=').map(Number) as [number, number];
    if (!Number.isSafeInteger(zxid)) return { error: 'cursor zxid out of range' };
    if (groups.has(group)) return { error: `cursor names group ${group} twice` };
    groups.set(group, zxid);
  }
  if (groups.size > MAX_GROUPS) return { error: 'cursor names too many groups' };
  if (tableVersion < 1) return { error: 'cursor table version must be at least 1' };
  return { tableVersion, groups };
}

/** `cursor` with `group` moved to `zxid` (never backwards: a watcher's position only grows). */
export function advanceCursor(cursor: WatchCursor, group: number, zxid: Zxid): WatchCursor {
  const current = cursor.groups.get(group);
  if (current !== undefined && current >= zxid) return cursor;
  const groups = new Map(cursor.groups);
  groups.set(group, zxid);
  return { tableVersion: cursor.tableVersion, groups };
}
