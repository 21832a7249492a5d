import { Type } from '@sinclair/typebox';
import { MAX_KEY_BYTES } from '../components/limits.js';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';
import {
  WATCH_FILTER_MAX_ENTRIES,
  WATCH_MAX_WAIT_MS,
  WATCH_VALUE_MAX_BYTES,
} from './watch-port.js';

const count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Characters, checked again in bytes (filterProblem): a JSON string limit counts UTF-16 units. */
const keyText = Type.String({ maxLength: MAX_KEY_BYTES });
const filterList = Type.Array(keyText, { maxItems: WATCH_FILTER_MAX_ENTRIES });

/** The most events one batch may carry, and the most changes one event may (a txn, a prefix delete). */
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_EVENT_CHANGES = 10_000;
/** The largest batch a node asks for or serves (values; a whole last event may go past it). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

const change = Type.Object(
  {
    key: keyText,
    type: Type.Union([Type.Literal('put'), Type.Literal('delete')]),
    value: Type.Optional(Type.Uint8Array({ maxByteLength: WATCH_VALUE_MAX_BYTES })),
    valueOmitted: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);

const event = Type.Object(
  {
    zxid: count,
    type: Type.Union([Type.Literal('put'), Type.Literal('delete'), Type.Literal('txn')]),
    changes: Type.Array(change, { minItems: 1, maxItems: MAX_EVENT_CHANGES }),
  },
  { additionalProperties: false },
);

/**
 * A node serving a watcher asks a member of the watched group for its changes (watch-service.ts).
 * The member answers once: a batch, or why it cannot (the asker then tries another member).
 */
export const watchMessages = defineMessages({
  'watch.Poll': Type.Object({
    requestId: count,
    group: count,
    /** -1: from what the member has applied (a watch that starts now). */
    after: Type.Integer({ minimum: -1, maximum: Number.MAX_SAFE_INTEGER }),
    prefixes: filterList,
    keys: filterList,
    waitMs: Type.Integer({ minimum: 0, maximum: WATCH_MAX_WAIT_MS }),
    maxBytes: Type.Integer({ minimum: 1, maximum: MAX_BATCH_BYTES }),
  }),
  'watch.Cancel': Type.Object({ requestId: count }),
  'watch.Batch': Type.Object({
    requestId: count,
    cursor: count,
    events: Type.Array(event, { maxItems: MAX_BATCH_EVENTS }),
  }),
  'watch.Ended': Type.Object({
    requestId: count,
    reason: Type.Union([
      Type.Literal('compacted'),
      Type.Literal('behind'),
      Type.Literal('not-here'),
      Type.Literal('busy'),
    ]),
  }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof watchMessages> {}
}
