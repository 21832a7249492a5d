import { validKey } from './kv-request.js';

/**
 * A listing's `next`: where the next page starts (after `key`), the lookup-table version the
 * pages were cut by, and the earliest zxid each group was read at over the pages so far (so the
 * last page's `revision` starts a watch that misses nothing the listing could have missed).
 * Opaque to clients: base64url of JSON `{"t":<table>,"k":"<key>","r":{"<group>":<zxid>,…}}`.
 */
export interface ListCursor {
  readonly tableVersion: number;
  readonly key: string;
  readonly readAt: ReadonlyMap<number, number>;
}

/** Groups a cursor may name (a table has far fewer). */
const MAX_CURSOR_GROUPS = 256;

/** A cursor is a key of at most 1 KiB plus a little: anything much longer is not one. */
const MAX_CURSOR_TEXT = 4 * 1024;

export function formatListCursor(cursor: ListCursor): string {
  const r = Object.fromEntries(cursor.readAt);
  return Buffer.from(JSON.stringify({ t: cursor.tableVersion, k: cursor.key, r }), 'utf8').toString(
    'base64url',
  );
}

/** The cursor in `text` (client input), or why it is none. */
export function parseListCursor(text: string): ListCursor | { readonly error: string } {
  if (text.length === 0 || text.length > MAX_CURSOR_TEXT || !/^[A-Za-z0-9_-]+$/.test(text))
    return { error: 'not base64url' };
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return { error: 'not a listing cursor' };
  }
  if (typeof fields !== 'object' || fields === null) return { error: 'not a listing cursor' };
  const { t, k, r } = fields as { t?: unknown; k?: unknown; r?: unknown };
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1)
    return { error: 'no table version' };
  if (typeof k !== 'string' || !validKey(k)) return { error: 'no valid key' };
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return { error: 'no read zxids' };
  const entries = Object.entries(r as Record<string, unknown>);
  if (entries.length > MAX_CURSOR_GROUPS) return { error: 'too many groups' };
  const readAt = new Map<number, number>();
  for (const [group, zxid] of entries) {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(group)) return { error: 'a group that is not a number' };
    if (typeof zxid !== 'number' || !Number.isSafeInteger(zxid) || zxid < 0)
      return { error: 'a zxid that is not one' };
    readAt.set(Number(group), zxid);
  }
  return { tableVersion: t, key: k, readAt };
}
