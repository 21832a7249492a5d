import type { ReplyTo } from '../components/kernel/index.js';
import type { NetMessage } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { StorageWrite, StoredEntry } from '../components/storage/index.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import type { KvResponse } from '../kv/kv-port.js';
import type { KvStateMachine } from './kv-state-machine.js';
import type { ReplicaInit } from './replica-config.js';
import type { ReplicaLog } from './replica-log.js';
import type { Zxid } from '../kv/zxid.js';

/** Where an operation's answer goes: the local requester, or the replica that forwarded it. */
export type Reply =
  | { readonly to: 'local'; readonly origin: ReplyTo<KvResponse>; readonly id: number }
  | { readonly to: 'remote'; readonly node: NodeId; readonly requestId: number };

/** A storage write before the replica numbers it. */
export type UnnumberedWrite = StorageWrite extends infer W
  ? W extends StorageWrite
    ? Omit<W, 'seq'>
    : never
  : never;

/**
 * What the leader and follower roles may use of their replica: its durable state, its
 * messages out, and the state machine. The replica owns all of it; a role is a phase of the
 * replica's life and ends when the replica leaves it (then its callbacks do nothing).
 */
export interface ReplicaCore {
  readonly config: ReplicaInit;
  readonly history: ReplicaLog;
  readonly machine: KvStateMachine;
  readonly acceptedEpoch: number;
  readonly currentEpoch: number;
  readonly voter: boolean;
  /** Everything up to here is known committed and applied. */
  readonly committed: Zxid;
  send(message: NetMessage): void;
  /** Tells `peer` the session is over (best effort; silence ends it too). */
  closeSession(peer: NodeId, session: number): void;
  /** Requests a write; `then` runs once it (and so every earlier write) is durable. */
  persist(write: UnnumberedWrite, then?: () => void): void;
  /** Persists acceptedEpoch, then runs `then` with the new value in effect (R2). */
  acceptEpoch(epoch: number, then: () => void): void;
  /** Persists currentEpoch (after every earlier write, R3), then runs `then`. */
  adoptEpoch(epoch: number, then: () => void): void;
  appendEntries(entries: readonly StoredEntry[], then?: () => void): void;
  truncateAfter(zxid: Zxid): void;
  installSnapshot(zxid: Zxid, state: Uint8Array): void;
  /** Marks everything up to `zxid` committed and applies it, answering waiting writes. */
  commitThrough(zxid: Zxid): void;
  isQuorum(count: number): boolean;
  isVoter(node: NodeId): boolean;
  respond(reply: Reply, outcome: KvOutcome, zxid: Zxid): void;
  /** This replica forwarded request `requestId`, proposed as `zxid`: answer it once applied. */
  answerAtApply(zxid: Zxid, requestId: number): void;
  nextSessionId(): number;
  /** Leaves the current role and starts a new election. */
  lookForLeader(reason: string): void;
  /** Tells observers; updates the election vote's epoch (ZOOKEEPER-1732). */
  noteEstablished(epoch: number): void;
  noteAcknowledging(zxid: Zxid): void;
  /** Runs `callback` once the events at hand are handled (closes a batch). */
  afterBurst(callback: () => void): void;
  logDebug(fields: Record<string, unknown>, message: string): void;
}
