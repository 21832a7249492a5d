import { portType } from '../kernel/index.js';
import type { NodeId } from '../network/node-id.js';

/** Replaces the set of monitored peers (e.g. once the node learns its replication group). */
export interface Monitor {
  readonly kind: 'Monitor';
  readonly peers: readonly NodeId[];
}

/** The peer has been silent longer than its current timeout. */
export interface Suspect {
  readonly kind: 'Suspect';
  readonly peer: NodeId;
}

/** A suspected peer was heard from again: the suspicion was false. */
export interface Restore {
  readonly kind: 'Restore';
  readonly peer: NodeId;
}

export type FailureDetectorRequest = Monitor;
export type FailureDetectorIndication = Suspect | Restore;

/** Eventually perfect failure detector (◇P): eventually suspects exactly the crashed peers. */
export const FailureDetector = portType<FailureDetectorRequest, FailureDetectorIndication>(
  'FailureDetector',
);
