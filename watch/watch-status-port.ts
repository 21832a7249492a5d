import { portType } from '../components/kernel/index.js';
import type { Zxid } from '../kv/zxid.js';

/** What this node's watch service holds and serves, for /metrics (reported when it changes). */
export interface WatchStatus {
  readonly kind: 'WatchStatus';
  /** The history of this node's group: changes after `floor` through `applied` are held. */
  readonly history: {
    readonly group: number;
    readonly floor: Zxid;
    readonly applied: Zxid;
    readonly entries: number;
    readonly bytes: number;
  } | null;
  /** Polls this node's replica holds (local and from other nodes). */
  readonly heldPolls: number;
  /** Polls of this node's watchers in flight (to this replica or another node). */
  readonly relayedPolls: number;
  /** Watchers told `compacted`, since start. */
  readonly compacted: number;
  /** Peer watch messages dropped, by reason (kv/peer-rejections.ts). */
  readonly rejected: Readonly<Record<string, number>>;
}

export const WatchStatusPort = portType<never, WatchStatus>('WatchStatus');
