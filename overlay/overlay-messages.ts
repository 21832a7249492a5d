import { Type } from '@sinclair/typebox';
import { defineMessages, type PayloadsOf } from '../components/network/message-catalogue.js';

const count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

// Requests and their answers travel as kv.Request / kv.Response (kv/forwarding-messages.ts).

export const overlayMessages = defineMessages({
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
