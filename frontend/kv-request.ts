import { MAX_KEY_BYTES } from '../components/limits.js';
import type { Condition } from '../kv/kv-operation.js';

const utf8 = new TextEncoder();

/** A key of 1 to 1 KiB of UTF-8 (DESIGN §7). */
export function validKey(key: string): boolean {
  return key.length > 0 && utf8.encode(key).length <= MAX_KEY_BYTES;
}

/** Every method on a key: the key is the whole rest of the path, slashes and all. */
export const KEY_ROUTE = '/kv/*';
const KEY_PREFIX = '/kv/';

/**
 * The key of a request URL: everything after `/kv/` up to the query, percent-decoded (as etcd
 * and ZooKeeper users name keys: `/kv/app/config` is key `app/config`). It is read from the raw
 * URL, not from the router's decoded parameter, so `//` and a trailing `/` stay in the key and
 * `%2F` is a slash like any other. Null when it is not a valid key: empty, over the limit, or
 * percent-encoded bytes that are not UTF-8 (keys are UTF-8 text).
 */
export function keyOfUrl(url: string): string | null {
  if (!url.startsWith(KEY_PREFIX)) return null;
  const query = url.indexOf('?');
  const path = url.slice(KEY_PREFIX.length, query < 0 ? undefined : query);
  let key: string;
  try {
    key = decodeURIComponent(path);
  } catch {
    return null;
  }
  return validKey(key) ? key : null;
}

/**
 * The condition of a write from its headers: `If-Match: "<version>"`, `If-Match: *`,
 * `If-None-Match: *`. Undefined when there is none; null when the headers are malformed.
 */
export function conditionOf(
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
): Condition | undefined | null {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) return null;
  if (ifNoneMatch !== undefined) return ifNoneMatch.trim() === '*' ? { ifNoneMatch: '*' } : null;
  if (ifMatch === undefined) return undefined;
  const tag = ifMatch.trim();
  if (tag === '*') return { ifMatch: '*' };
  const match = /^"([1-9][0-9]{0,15})"$/.exec(tag);
  if (match === null) return null;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? { ifMatch: version } : null;
}

export function etag(version: number): string {
  return `"${version}"`;
}
