import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { LookupTable } from '../../bootstrap/lookup-table.js';
import { makeZxid } from '../../kv/zxid.js';
import type { ReplicaStatus } from '../../replica/replica-status-port.js';
import type { RoutingStatus } from '../../overlay/routing-status-port.js';

/** Six nodes in two groups of three: group 0 is nodes 1-3, group 1 is nodes 4-6. */
export function twoGroups(version = 1): LookupTable {
  const nodes = [1, 2, 3, 4, 5, 6].map((id) => ({
    id,
    peer: { host: '127.0.0.1', port: 7_000 + id },
    http: { host: '127.0.0.1', port: 8_000 + id },
  }));
  return LookupTable.assign(version, nodes, 3);
}

/** Node 1's replica of group 0, leading epoch 3 with followers 2 and 3. */
export function leaderStatus(overrides: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return {
    kind: 'ReplicaStatus',
    group: 0,
    node: nodeId(1),
    role: 'leading',
    serving: true,
    leader: nodeId(1),
    acceptedEpoch: 3,
    currentEpoch: 3,
    lastZxid: makeZxid(3, 10),
    committedZxid: makeZxid(3, 9),
    appliedZxid: makeZxid(3, 8),
    pendingProposals: 1,
    dbBytes: 1_234,
    quotaBytes: 1 << 20,
    followers: [
      { node: nodeId(2), synced: true, ackedZxid: makeZxid(3, 10) },
      { node: nodeId(3), synced: true, ackedZxid: makeZxid(3, 7) },
    ],
    rejected: {},
    divergences: 0,
    ...overrides,
  };
}

export function routing(leaders: Record<number, number | null>, tableVersion = 1): RoutingStatus {
  return {
    kind: 'RoutingStatus',
    tableVersion,
    groups: Object.entries(leaders).map(([id, leader]) => ({
      id: Number(id),
      leader: leader === null ? null : (nodeId(leader) as NodeId),
    })),
    rejected: {},
  };
}
