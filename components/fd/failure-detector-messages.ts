import { Type } from '@sinclair/typebox';
import { defineMessages, type PayloadsOf } from '../network/message-catalogue.js';

export const failureDetectorMessages = defineMessages({
  /** "I am alive", sent to every monitored peer each heartbeat period. */
  'fd.Heartbeat': Type.Object({}),
});

declare module '../network/network-port.js' {
  interface NetworkMessages extends PayloadsOf<typeof failureDetectorMessages> {}
}
