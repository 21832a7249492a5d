import { Type } from '@sinclair/typebox';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';

const count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const overlayMessages = defineMessages({
  /** An operation for a group this node is not in, sent to a member of that group. */
  'overlay.Request': Type.Object({ group: count, requestId: count, payload: Type.Uint8Array() }),
  'overlay.Response': Type.Object({
    requestId: count,
    status: Type.Union([200, 204, 404, 412, 503, 504].map((s) => Type.Literal(s))),
    version: Type.Optional(count),
    value: Type.Optional(Type.Uint8Array()),
    reason: Type.Optional(Type.String({ maxLength: 200 })),
    epoch: count,
    zxid: count,
    stale: Type.Boolean(),
    /** The group's leader as the answering member knows it (-1: unknown). */
    leader: Type.Integer({ minimum: -1, maximum: 65_535 }),
  }),
  /** Who leads your group? Asked now and then, so every node knows every group's leader. */
  'overlay.LeaderQuery': Type.Object({ group: count }),
  'overlay.LeaderAnswer': Type.Object({
    group: count,
    leader: Type.Integer({ minimum: -1, maximum: 65_535 }),
  }),
});

declare module '../components/network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof overlayMessages> {}
}
