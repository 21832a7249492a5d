import type { MessageOf } from '../components/network/network-port.js';
import { decodeOperation, isWrite } from '../kv/kv-operation.js';
import { epochOf, formatZxid, type Zxid } from '../kv/zxid.js';
import { decodeLogEntry } from './log-entry.js';

/**
 * Checks of session messages against what the protocol makes possible, for the roles (the
 * checks that need no role state are in peer-gate.ts). Each returns why the message is
 * impossible, or null; the role then counts it and ends the session instead of asserting
 * (DESIGN §4: peer input is validated, never asserted).
 */

/**
 * Epochs a follower's promise may run ahead of this node's own: each election a node misses
 * adds about one (a leader takes one above every promise it gathers), so a lead of a thousand
 * is no history a group makes, only a forged FOLLOWERINFO. Taken, a leader steps down for it and
 * the next proposes past it: two such frames used up the 2^21 epochs a zxid can carry, and the
 * group never elected again. A node this far behind a real follower leaves it out (as ZooKeeper
 * leaves out a follower that promised a newer epoch) and learns the epoch when it follows.
 */
export const MAX_EPOCH_LEAD = 1_000;

/** FOLLOWERINFO's promise against this node's `acceptedEpoch`: why it is impossible, or null. */
export function promiseFault(promised: number, acceptedEpoch: number): string | null {
  if (promised <= acceptedEpoch + MAX_EPOCH_LEAD) return null;
  return `acceptedEpoch ${promised}, more than ${MAX_EPOCH_LEAD} past this node's ${acceptedEpoch}`;
}

/**
 * ACKEPOCH answers this leader's LEADERINFO for `epoch`: the follower has promised `epoch`, so
 * its currentEpoch is below it (or -1: promised before), and its history holds nothing of a
 * later epoch.
 */
export function ackEpochFault(message: MessageOf<'zab.AckEpoch'>, epoch: number): string | null {
  if (message.currentEpoch >= epoch) {
    return `currentEpoch ${message.currentEpoch} in answer to epoch ${epoch}`;
  }
  if (epochOf(message.lastZxid) > epoch) {
    return `last zxid ${formatZxid(message.lastZxid)} in answer to epoch ${epoch}`;
  }
  if (message.committed > message.lastZxid) {
    const committed = formatZxid(message.committed);
    return `committed ${committed} beyond its last zxid ${formatZxid(message.lastZxid)}`;
  }
  return null;
}

/**
 * Whether a follower's history, as its ACKEPOCH tells it, is more recent than `leader`'s
 * (never when it had promised this epoch before: currentEpoch -1).
 */
export function followerAhead(
  message: MessageOf<'zab.AckEpoch'>,
  leader: { readonly currentEpoch: number; readonly lastZxid: Zxid },
): boolean {
  if (message.currentEpoch === -1) return false;
  if (message.currentEpoch !== leader.currentEpoch) {
    return message.currentEpoch > leader.currentEpoch;
  }
  return message.lastZxid > leader.lastZxid;
}

/**
 * Every logged entry is a write (the leader proposes only writes, in log-entry form): anything
 * else would be refused when applied, after it was made durable. Checked before logging.
 */
export function entriesFault(entries: readonly (readonly [Zxid, Uint8Array])[]): string | null {
  for (const [zxid, payload] of entries) {
    const operation = decodeOperation(decodeLogEntry(payload).operation);
    if (operation === null || !isWrite(operation)) return `${formatZxid(zxid)} is not a write`;
  }
  return null;
}
