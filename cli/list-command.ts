import { oneShot } from '../client/one-shot.js';
import { UsageError, connectionOf, table, type ConnectionFlags } from './kv-commands.js';

// `zabkv ls`: pages of GET /kv?prefix= over node:http (client/one-shot.ts), like get.

interface Item {
  key: string;
  version: string;
  value?: string;
  valueBase64?: string;
}

export interface ListFlags extends ConnectionFlags {
  keysOnly?: boolean;
  stale?: boolean;
  limit?: string;
}

/**
 * `zabkv ls [prefix]`: the keys with a prefix in key order, following the listing's `next` page
 * by page, printing each page as it comes (memory stays at one page). `simple` prints a key a
 * line (values are not fetched), `json` one JSON object a line, `table` KEY, VERSION, VALUE.
 */
export async function ls(prefix: string, flags: ListFlags): Promise<void> {
  const limit = flags.limit ?? '1000';
  if (!/^[1-9][0-9]{0,4}$/.test(limit) || Number(limit) > 10_000)
    throw new UsageError('--limit is a page size from 1 to 10000');
  const connection = connectionOf(flags);
  const keysOnly = flags.keysOnly === true || flags.writeOut === 'simple';
  let after: string | null = null;
  let first = true;
  for (;;) {
    const query = new URLSearchParams({ prefix, limit });
    if (keysOnly) query.set('keysOnly', '1');
    if (flags.stale === true) query.set('consistency', 'stale');
    if (after !== null) query.set('after', after);
    const answer = await oneShot(connection, 'GET', `/kv?${query.toString()}`);
    const page = JSON.parse(answer.body.toString()) as { items: Item[]; next: string | null };
    print(flags.writeOut, page.items, first);
    first = false;
    if (page.next === null) return;
    after = page.next;
  }
}

function print(
  writeOut: ConnectionFlags['writeOut'],
  items: readonly Item[],
  first: boolean,
): void {
  if (writeOut === 'simple') {
    if (items.length > 0) console.log(items.map((i) => i.key).join('\n'));
    return;
  }
  if (writeOut === 'json') {
    if (items.length > 0) console.log(items.map((i) => JSON.stringify(i)).join('\n'));
    return;
  }
  const rows = items.map((i) => [
    i.key,
    i.version,
    i.value ?? (i.valueBase64 === undefined ? '' : `base64:${i.valueBase64}`),
  ]);
  if (rows.length > 0 || first) {
    console.log(table(first ? [['KEY', 'VERSION', 'VALUE'], ...rows] : rows));
  }
}
