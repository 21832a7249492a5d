import { MAX_KEY_BYTES } from '../components/limits.js';
import type { Condition } from '../kv/kv-operation.js';

const utf8 = new TextEncoder();

export function validKey(key: string): boolean {
  return key.length > 0 && utf8.encode(key).length <= MAX_KEY_BYTES;
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
