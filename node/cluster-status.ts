import type { NodeId } from '../components/network/node-id.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import type { ReplicaStatus } from '../replica/replica-status-port.js';
import type { RoutingStatus } from '../overlay/routing-status-port.js';
import type { ClusterStatus, GroupStatus } from '../frontend/cluster-status.js';

/**
 * What a node says about itself (`/readyz`, `/cluster`), from the last report of each part:
 * the lookup table from Bootstrap, its replica's ReplicaStatus, its overlay's RoutingStatus.
 * The host fills it from port events; the HTTP frontend reads it between events.
 */
export class StatusBoard {
  private table: LookupTable | null = null;
  private replica: ReplicaStatus | null = null;
  private routing: RoutingStatus | null = null;

  constructor(private readonly self: NodeId) {}

  /** Keeps the newest table, as the overlay does. */
  tableReady(table: LookupTable): void {
    if (this.table === null || table.version > this.table.version) this.table = table;
  }

  replicaStatus(status: ReplicaStatus): void {
    this.replica = status;
  }

  routingStatus(status: RoutingStatus): void {
    this.routing = status;
  }

  /**
   * Ready (DESIGN §7): this node's group serves here, and a leader is known for every group of
   * the table, its own from its replica and the others from its overlay.
   */
  ready(): boolean {
    const table = this.table;
    if (table === null || this.replica?.serving !== true) return false;
    return table.groups.every((group) => this.leaderOf(group.id) !== null);
  }

  cluster(): ClusterStatus {
    const table = this.table;
    if (table === null) return { formed: false, node: this.self };
    const ranges = table.ranges();
    return {
      formed: true,
      node: this.self,
      version: table.version,
      groups: table.groups.map((group): GroupStatus => ({
        id: group.id,
        ranges: ranges.filter((range) => range.group === group.id),
        members: group.members.map((id) => {
          const http = table.address(id)?.http;
          return http === undefined ? { id } : { id, http };
        }),
        leader: this.leaderOf(group.id),
        ...this.replicaFields(group.id),
      })),
    };
  }

  /** The leader of `group` as this node knows it: its own group's from its replica. */
  private leaderOf(group: number): NodeId | null {
    if (this.isOwn(group)) return this.replica?.leader ?? null;
    return this.routing?.groups.find((g) => g.id === group)?.leader ?? null;
  }

  private isOwn(group: number): boolean {
    return this.table?.groupOfNode(this.self)?.id === group;
  }

  private replicaFields(group: number): Partial<GroupStatus> {
    const status = this.replica;
    if (status === null || status.group !== group || !this.isOwn(group)) return {};
    return {
      role: status.role,
      acceptedEpoch: status.acceptedEpoch,
      epoch: status.currentEpoch,
      lastZxid: status.lastZxid,
      committedZxid: status.committedZxid,
      appliedZxid: status.appliedZxid,
      dbBytes: status.dbBytes,
      quotaBytes: status.quotaBytes,
      ...(status.role === 'leading'
        ? {
            followers: status.followers.map(({ node, synced, ackedZxid }) => ({
              node,
              synced,
              ackedZxid,
            })),
          }
        : {}),
    };
  }
}
