import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../components/limits.js';
import type { KvOperation } from './kv-operation.js';
import { rangeBeyondLimits } from './range.js';
import { txnBeyondLimits } from './txn.js';

/**
 * Why `operation` is outside what the HTTP edge accepts (DESIGN §7: a key of 1 to 1 KiB of
 * UTF-8, a value up to 1 MiB), or null when it is within. The edge checks a client's request
 * before encoding it; an operation that arrives from a peer is checked again with this, so the
 * peer port is no way around the limits (reference/security.md §1, "Peer TCP: overlay").
 */
export function beyondLimits(operation: KvOperation): string | null {
  if (operation.op === 'txn') return txnBeyondLimits(operation);
  if (operation.op === 'range' || operation.op === 'deleteRange')
    return rangeBeyondLimits(operation);
  const { key } = operation;
  if (key.length === 0) return 'empty key';
  // A UTF-16 unit is at most 3 bytes of UTF-8: count only keys that may be over.
  if (
    key.length > MAX_KEY_BYTES ||
    (key.length * 3 > MAX_KEY_BYTES && utf8Bytes(key) > MAX_KEY_BYTES)
  ) {
    return `key over ${MAX_KEY_BYTES} bytes`;
  }
  if (operation.op === 'put' && operation.value.byteLength > MAX_VALUE_BYTES) {
    return `value over ${MAX_VALUE_BYTES} bytes`;
  }
  return null;
}

/** The length of `text` in UTF-8, as TextEncoder would encode it (a lone surrogate as 3 bytes). */
function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
