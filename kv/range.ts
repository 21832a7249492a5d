import {
  MAX_DELETE_BATCH_COUNT,
  MAX_KEY_BYTES,
  MAX_LIST_LIMIT_COUNT,
  MAX_LIST_PAGE_BYTES,
} from '../components/limits.js';

/**
 * One group's part of a listing page (`GET /kv?prefix=`): the keys of `group` that start with
 * `prefix` and come after `after`, in UTF-8 byte order, at most `limit` of them and about
 * `maxBytes` of keys and values. Read like a get: through the ReadIndex barrier, or stale.
 * It names its group because a prefix has no one key to place it by.
 */
export interface KvRange {
  readonly op: 'range';
  readonly group: number;
  readonly prefix: string;
  /** Only keys after this one (exclusive); null: from the first key with the prefix. */
  readonly after: string | null;
  readonly limit: number;
  readonly maxBytes: number;
  readonly keysOnly: boolean;
  readonly consistency: 'linearizable' | 'stale';
}

/**
 * One logged batch of a prefix delete (`DELETE /kv?prefix=`): at apply, the first `limit` keys
 * of the group that start with `prefix` are deleted at the entry's one zxid, each by the normal
 * write rule. Atomic per batch, never across batches or groups.
 */
export interface KvDeleteRange {
  readonly op: 'deleteRange';
  readonly group: number;
  readonly prefix: string;
  readonly limit: number;
}

export interface RangeItem {
  readonly key: string;
  readonly version: number;
  /** Absent for a `keysOnly` range. */
  readonly value?: Uint8Array;
}

/** What a range read found; `more`: a key with the prefix follows the last item. */
export interface RangeResult {
  readonly items: readonly RangeItem[];
  readonly more: boolean;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Key order: by UTF-8 bytes (state/write-rules.ts compareKeys, which kv/ cannot import). */
function before(a: string, b: string): boolean {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0;
}

function isCount(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Why a range or prefix delete is beyond what is accepted (HTTP and peers alike), or null. */
export function rangeBeyondLimits(operation: KvRange | KvDeleteRange): string | null {
  if (utf8Length(operation.prefix) > MAX_KEY_BYTES) return `prefix over ${MAX_KEY_BYTES} bytes`;
  if (operation.op === 'deleteRange') {
    if (operation.prefix.length === 0) return 'a prefix delete needs a prefix';
    if (!isCount(operation.limit, 1, MAX_DELETE_BATCH_COUNT))
      return `a delete batch is 1 to ${MAX_DELETE_BATCH_COUNT} keys`;
    return null;
  }
  const { after } = operation;
  if (after !== null && (after.length === 0 || utf8Length(after) > MAX_KEY_BYTES))
    return `the key to list after must be 1 to ${MAX_KEY_BYTES} bytes`;
  if (!isCount(operation.limit, 1, MAX_LIST_LIMIT_COUNT))
    return `limit must be 1 to ${MAX_LIST_LIMIT_COUNT}`;
  if (!isCount(operation.maxBytes, 1, MAX_LIST_PAGE_BYTES))
    return `a page is 1 to ${MAX_LIST_PAGE_BYTES} bytes`;
  return null;
}

/** The wire and log form's body after its op code. */
export function rangeFields(operation: KvRange | KvDeleteRange): unknown[] {
  if (operation.op === 'deleteRange') return [operation.group, operation.prefix, operation.limit];
  const { group, prefix, after, limit, maxBytes, keysOnly, consistency } = operation;
  return [group, prefix, after, limit, maxBytes, keysOnly, consistency === 'stale'];
}

/** A range from decoded msgpack `fields` (untrusted), or null; limits are checked apart. */
export function rangeOfFields(fields: readonly unknown[]): KvRange | null {
  if (fields.length !== 7) return null;
  const [group, prefix, after, limit, maxBytes, keysOnly, stale] = fields;
  if (!isCount(group, 0, Number.MAX_SAFE_INTEGER) || typeof prefix !== 'string') return null;
  if (after !== null && typeof after !== 'string') return null;
  if (!isCount(limit, 0, Number.MAX_SAFE_INTEGER)) return null;
  if (!isCount(maxBytes, 0, Number.MAX_SAFE_INTEGER)) return null;
  if (typeof keysOnly !== 'boolean' || typeof stale !== 'boolean') return null;
  const consistency = stale ? 'stale' : 'linearizable';
  return { op: 'range', group, prefix, after, limit, maxBytes, keysOnly, consistency };
}

export function deleteRangeOfFields(fields: readonly unknown[]): KvDeleteRange | null {
  if (fields.length !== 3) return null;
  const [group, prefix, limit] = fields;
  if (!isCount(group, 0, Number.MAX_SAFE_INTEGER) || typeof prefix !== 'string') return null;
  if (!isCount(limit, 0, Number.MAX_SAFE_INTEGER)) return null;
  return { op: 'deleteRange', group, prefix, limit };
}

/** A result's wire form, for the answer that crosses the network (kv.Response `range`). */
export function rangeResultFields(result: RangeResult): unknown[] {
  return [
    result.more,
    result.items.map((i) =>
      i.value === undefined ? [i.key, i.version] : [i.key, i.version, i.value],
    ),
  ];
}

/**
 * The result in decoded msgpack `fields` (a peer's answer: hostile), or null when it is not
 * one: at most MAX_LIST_LIMIT_COUNT items of valid keys in strictly increasing order, each
 * with a positive version and bytes or nothing as its value.
 */
export function rangeResultOfFields(fields: unknown): RangeResult | null {
  if (!Array.isArray(fields) || fields.length !== 2 || typeof fields[0] !== 'boolean') return null;
  const list: unknown = fields[1];
  if (!Array.isArray(list) || list.length > MAX_LIST_LIMIT_COUNT) return null;
  const items: RangeItem[] = [];
  for (const entry of list as unknown[]) {
    if (!Array.isArray(entry) || (entry.length !== 2 && entry.length !== 3)) return null;
    const [key, version, value] = entry as [unknown, unknown, unknown];
    if (typeof key !== 'string' || key.length === 0 || utf8Length(key) > MAX_KEY_BYTES) return null;
    if (!isCount(version, 1, Number.MAX_SAFE_INTEGER)) return null;
    if (entry.length === 3 && !(value instanceof Uint8Array)) return null;
    const previous = items.at(-1);
    if (previous !== undefined && !before(previous.key, key)) return null;
    items.push(
      entry.length === 3 ? { key, version, value: value as Uint8Array } : { key, version },
    );
  }
  return { items, more: fields[0] };
}
