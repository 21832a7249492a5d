import { portType } from '../components/kernel/index.js';
import type { KvOperation, KvOutcome } from './kv-operation.js';
import type { NodeId } from '../components/network/node-id.js';
import type { Zxid } from './zxid.js';

/** A client operation for this replica's group; `id` is the requester's, echoed in the response. */
export interface KvRequest {
  readonly kind: 'KvRequest';
  readonly id: number;
  readonly operation: KvOperation;
  /** `operation` as encoded once at the edge: forwarded and logged as it is, never re-encoded. */
  readonly payload: Uint8Array;
}

/** Where the answer came from, for the X-Kv-* response headers. */
export interface ServedBy {
  readonly epoch: number;
  /** The zxid the answer reflects: the write's zxid, or the applied zxid a read saw. */
  readonly zxid: Zxid;
  /** True for `consistency=stale` reads, which may lag the group. */
  readonly stale: boolean;
  /** The group's leader as the answering replica knows it (routing learns it from here). */
  readonly leader: NodeId | null;
}

export interface KvResponse {
  readonly kind: 'KvResponse';
  readonly id: number;
  readonly outcome: KvOutcome;
  readonly served: ServedBy;
}

/** The replica's view of its group's leader changed (null: it is looking for one). */
export interface LeaderChanged {
  readonly kind: 'LeaderChanged';
  readonly group: number;
  readonly leader: NodeId | null;
  readonly epoch: number;
}

/**
 * The key-value service of one replication group, provided by every replica of the group.
 * A request may reach any replica; it answers to the requester that sent it, exactly once.
 */
export const Kv = portType<KvRequest, KvResponse | LeaderChanged>('Kv');
