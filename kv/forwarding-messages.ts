import { Type } from '@sinclair/typebox';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';
import { MAX_OPERATION_BYTES, MAX_REASON_LENGTH } from '../components/limits.js';
import { NODE_ID_MAX } from '../components/network/node-id.js';

const count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const leader = Type.Integer({ minimum: -1, maximum: NODE_ID_MAX });

/**
 * Which of the two forwarding hops a message belongs to: `route`, from the node a client
 * called to a member of the key's group (the overlay); `leader`, from a replica to its
 * group's leader (the replica). Both use one schema and one PendingRequests table.
 */
export const ROUTE_HOP = 0;
export const LEADER_HOP = 1;
const hop = Type.Union([Type.Literal(ROUTE_HOP), Type.Literal(LEADER_HOP)]);

export const forwardingMessages = defineMessages({
  /** An operation, in the form it was encoded in once at the edge (kv/kv-operation.ts). */
  'kv.Request': Type.Object({
    hop,
    group: count,
    requestId: count,
    payload: Type.Uint8Array({ maxByteLength: MAX_OPERATION_BYTES }),
  }),
  'kv.Response': Type.Object({
    hop,
    requestId: count,
    status: Type.Union([200, 204, 404, 412, 503, 504, 507].map((s) => Type.Literal(s))),
    version: Type.Optional(count),
    value: Type.Optional(Type.Uint8Array()),
    reason: Type.Optional(Type.String({ maxLength: MAX_REASON_LENGTH })),
    /** With 507: which limit refused the write (kv/outcome.ts). */
    cause: Type.Optional(Type.Union([Type.Literal('quota'), Type.Literal('disk')])),
    /** With a transaction's 200: its result (kv/txn.ts), msgpack, checked when decoded. */
    txn: Type.Optional(Type.Uint8Array()),
    /** With a range's 200: its result (kv/range.ts), msgpack, checked when decoded. */
    range: Type.Optional(Type.Uint8Array()),
    /** Where the answer came from (kv-port.ts, ServedBy); leader -1: unknown. */
    epoch: count,
    zxid: count,
    stale: Type.Boolean(),
    leader,
  }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof forwardingMessages> {}
}
