import type { WatchChange, WatchEvent } from '../watch/watch-port.js';

/** One change as clients see it (README, "Watching keys"). */
export interface ChangeJson {
  readonly key: string;
  readonly type: 'put' | 'delete';
  /** The zxid of the change, in decimal: the key's version after a put. */
  readonly version: string;
  /** The value as UTF-8 text; `valueBase64` when it is not; neither for a delete. */
  readonly value?: string;
  readonly valueBase64?: string;
  /** Over 64 KiB: not carried, read the key for it. */
  readonly valueOmitted?: true;
}

/** An SSE event's `data:`, and a long-poll batch's event (with its `type`). */
export interface EventJson {
  readonly group: number;
  readonly zxid: string;
  readonly changes: readonly ChangeJson[];
}

// fatal: bytes that are not UTF-8 go as base64, never as U+FFFD; ignoreBOM: a leading BOM is
// part of the value, not eaten by the decoder.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function valueFields(change: WatchChange): Partial<ChangeJson> {
  if (change.valueOmitted === true) return { valueOmitted: true };
  if (change.value === undefined) return {};
  try {
    return { value: utf8.decode(change.value) };
  } catch {
    const bytes = change.value;
    return {
      valueBase64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    };
  }
}

export function eventJson(group: number, event: WatchEvent): EventJson {
  const version = String(event.zxid);
  return {
    group,
    zxid: version,
    changes: event.changes.map((change) => ({
      key: change.key,
      type: change.type,
      version,
      ...valueFields(change),
    })),
  };
}
