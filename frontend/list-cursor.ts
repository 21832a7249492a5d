import { validKey } from './kv-request.js';

/**
 * A listing's `next`: where the next page starts (after `key`) and the lookup-table version the
 * pages were cut by. Opaque to clients: base64url of JSON `{"t":<table>,"k":"<key>"}`.
 */
export interface ListCursor {
  readonly tableVersion: number;
  readonly key: string;
}

/** A cursor is a key of at most 1 KiB plus a little: anything much longer is not one. */
const MAX_CURSOR_TEXT = 4 * 1024;

export function formatListCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.tableVersion, k: cursor.key }), 'utf8').toString(
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
  const { t, k } = fields as { t?: unknown; k?: unknown };
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1)
    return { error: 'no table version' };
  if (typeof k !== 'string' || !validKey(k)) return { error: 'no valid key' };
  return { tableVersion: t, key: k };
}
