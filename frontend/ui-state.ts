import type { NodeId } from '../components/network/node-id.js';
import type { KeyRange } from '../bootstrap/lookup-table.js';
import type { Zxid } from '../kv/zxid.js';
import type { ClusterStatus } from './cluster-status.js';

/**
 * The documents behind the dashboard (README, "Dashboard"). `GET /ui/node` is what one node
 * knows about itself; `GET /ui/state` is the whole cluster as the answering node assembles it
 * from every member's `/ui/node`, so the page needs only one node's address.
 */

/** One second of client requests that entered at a node, for one group. */
export interface GroupSecond {
  /** Requests answered (any status). */
  readonly ops: number;
  /** Of those, answered 5xx (did not happen, or outcome unknown). */
  readonly errors: number;
  /** Milliseconds, at this node. */
  readonly p50: number;
  readonly p99: number;
}

export interface UiSample {
  /** Unix second the sample covers. */
  readonly t: number;
  /** By group id. */
  readonly groups: Readonly<Record<string, GroupSecond>>;
}

export type UiEventKind =
  | 'started'
  | 'election'
  | 'leader'
  | 'following'
  | 'slow-fsync'
  | 'snapshot'
  | 'node-down'
  | 'node-up';

export interface UiEvent {
  /** Unix milliseconds. */
  readonly at: number;
  readonly node: NodeId;
  readonly kind: UiEventKind;
  readonly text: string;
}

/** `GET /ui/node?since=<unix ms>`: samples and events after `since`. */
export interface NodeUiView {
  readonly node: NodeId;
  readonly at: number;
  readonly status: ClusterStatus;
  /** Its replica serves: an established leader, or a follower synced with one. */
  readonly serving: boolean;
  readonly samples: readonly UiSample[];
  readonly events: readonly UiEvent[];
}

/** A member as `/ui/state` shows it. `up: false`: its `/ui/node` did not answer. */
export interface UiMember {
  readonly id: NodeId;
  readonly http?: { readonly host: string; readonly port: number };
  readonly up: boolean;
  /** `syncing`: following a leader, not yet synced with it (DIFF, TRUNC or SNAP under way). */
  readonly role?: 'starting' | 'looking' | 'syncing' | 'following' | 'leading';
  readonly epoch?: number;
  readonly lastZxid?: Zxid;
  readonly appliedZxid?: Zxid;
  readonly committedZxid?: Zxid;
  /** Proposals in the leader's log this member lacks (absent with no live leader). */
  readonly lag?: number;
}

export interface UiGroup {
  readonly id: number;
  /** The member that reports itself leading, if it is up. */
  readonly leader: NodeId | null;
  readonly members: readonly UiMember[];
}

/** Per-second series over the last minutes, summed over the nodes requests entered at. */
export interface UiSeries {
  /** Unix seconds, one per point, no gaps. */
  readonly t: readonly number[];
  readonly groups: Readonly<
    Record<
      string,
      {
        readonly ops: readonly number[];
        readonly errors: readonly number[];
        /** Ops-weighted mean of the entry nodes' medians (ms); null with no requests. */
        readonly p50: readonly (number | null)[];
        /** The highest entry node's p99 (ms): an upper bound of the group's. */
        readonly p99: readonly (number | null)[];
      }
    >
  >;
}

/** `GET /ui/state`. */
export interface UiState {
  readonly at: number;
  /** The node that answered. */
  readonly node: NodeId;
  readonly formed: boolean;
  readonly version?: number;
  readonly ranges: readonly KeyRange[];
  readonly groups: readonly UiGroup[];
  readonly series: UiSeries;
  /** Newest last. */
  readonly events: readonly UiEvent[];
}

/** What the HTTP frontend needs to serve the dashboard. */
export interface UiSource {
  /** This node's view, with samples and events after `since` (unix ms). */
  nodeView(since: number): NodeUiView;
}
