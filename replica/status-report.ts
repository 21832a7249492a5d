import type { NodeId } from '../components/network/node-id.js';
import type { DurableState } from './durable-state.js';
import type { ReplicaStatus } from './replica-status-port.js';

type RoleView = Pick<
  ReplicaStatus,
  'role' | 'serving' | 'leader' | 'pendingProposals' | 'followers' | 'rejected' | 'divergences'
>;

/** Builds a replica's status reports, and says when one differs from the last one sent. */
export class StatusReport {
  private last: ReplicaStatus | null = null;

  constructor(
    private readonly group: number,
    private readonly node: NodeId,
    private readonly quotaBytes: number,
  ) {}

  /** The report for now, or null when nothing changed since the last one. */
  next(durable: DurableState, role: RoleView): ReplicaStatus | null {
    const status: ReplicaStatus = {
      kind: 'ReplicaStatus',
      group: this.group,
      node: this.node,
      ...role,
      acceptedEpoch: durable.acceptedEpoch,
      currentEpoch: durable.currentEpoch,
      lastZxid: durable.history.last,
      committedZxid: durable.committed,
      appliedZxid: durable.machine.appliedZxid,
      dbBytes: durable.machine.bytes,
      quotaBytes: this.quotaBytes,
    };
    if (this.last !== null && same(this.last, status)) return null;
    this.last = status;
    return status;
  }
}

function same(a: ReplicaStatus, b: ReplicaStatus): boolean {
  for (const key of Object.keys(a) as (keyof ReplicaStatus)[]) {
    if (key !== 'followers' && a[key] !== b[key]) return false;
  }
  return (
    a.followers.length === b.followers.length &&
    a.followers.every((f, i) => {
      const g = b.followers[i]!;
      return f.node === g.node && f.synced === g.synced && f.ackedZxid === g.ackedZxid;
    })
  );
}
