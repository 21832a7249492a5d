import type { NetMessage } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { PeerRejectionReason } from '../kv/peer-rejections.js';
import type { Zxid } from '../kv/zxid.js';
import type { ClientRequests } from './client-requests.js';
import type { AppliedEntry, DurableState } from './durable-state.js';
import type { ReplicaInit } from './replica-config.js';

/** What a role asks of the replica component that runs it. */
export interface RoleHost {
  send(message: NetMessage): void;
  /** Tells `peer` the session is over (best effort; silence ends it too). */
  closeSession(peer: NodeId, session: number): void;
  /**
   * Ends this role and starts an election. The role must return at once after calling it.
   * `refused`: it ended on a message it refused, so the next session waits a tick before it
   * registers (a leader that keeps sending the same impossible sync is not met in a busy loop).
   */
  lookForLeader(reason: string, refused?: boolean): void;
  /** The role is established in `epoch` (a leader with its quorum, a synced follower). */
  established(epoch: number): void;
  /** About to acknowledge holding everything up to `zxid` durably (for the observer). */
  acknowledging(zxid: Zxid): void;
  /** Asks for the role's `onBurstEnd` once the events at hand are handled (closes a batch). */
  requestBurstEnd(): void;
  /**
   * Asks for the state store to be polled once the events at hand are handled (the role then
   * hears of its progress: onStateProgress). The store's writes finish between turns.
   */
  requestStatePoll(): void;
  /**
   * Asks the network to hand what was sent so far to `peer` to the operating system; the role
   * hears `onFlushed(peer)` once it did (that peer's socket sets the pace of its sync).
   */
  requestFlush(peer: NodeId): void;
  /** Commits and applies through `zxid`, answering the clients of what it applies. */
  commitThrough(zxid: Zxid, onApplied?: (applied: AppliedEntry) => void): void;
  nextSessionId(): number;
  isQuorum(count: number): boolean;
  isVoter(node: NodeId): boolean;
  logDebug(fields: Record<string, unknown>, message: string): void;
  logWarn(fields: Record<string, unknown>, message: string): void;
  logError(fields: Record<string, unknown>, message: string): void;
  /**
   * This follower's committed history is not the group's (the leader sends a snapshot below its
   * commit point): logged as an error and counted, since acknowledged writes may be gone.
   */
  historyDiverged(fields: Record<string, unknown>): void;
  /**
   * A peer sent something impossible (docs: peer input is validated, never asserted): counts
   * it and logs it at warn, with a limit. The role then drops the message or the session.
   */
  rejectPeer(reason: PeerRejectionReason, fields: Record<string, unknown>): void;
}

/** The small objects a role works with; the role owns nothing of them and outlives none. */
export interface RoleContext {
  readonly config: ReplicaInit;
  readonly durable: DurableState;
  readonly requests: ClientRequests;
  readonly replica: RoleHost;
}
