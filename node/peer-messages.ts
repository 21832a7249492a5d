import { failureDetectorMessages } from '../components/fd/index.js';
import { MessageCatalogue } from '../components/network/message-catalogue.js';
import { forwardingMessages } from '../kv/forwarding-messages.js';
import { bootstrapMessages } from '../bootstrap/bootstrap-messages.js';
import { overlayMessages } from '../overlay/overlay-messages.js';
import { zabMessages } from '../replica/zab-messages.js';
import { watchMessages } from '../watch/watch-messages.js';

/** Every message kind a production node accepts from a peer; anything else closes the link. */
export const peerMessages = new MessageCatalogue(
  zabMessages,
  forwardingMessages,
  overlayMessages,
  bootstrapMessages,
  failureDetectorMessages,
  watchMessages,
);
