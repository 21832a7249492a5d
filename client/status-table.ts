import type { ClusterStatus, GroupStatus } from '../frontend/cluster-status.js';
import { counterOf, epochOf } from '../kv/zxid.js';
import { ZabkvClient } from './zabkv-client.js';

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** `zabkv status`: one line per group, as seen by the node asked. */
export function formatStatus(status: ClusterStatus): string {
  if (!status.formed) {
    return `node ${status.node}: the cluster is not formed yet (waiting for nodes to check in)`;
  }
  const rows = [['group', 'key hash range', 'members', 'leader', 'epoch', 'zxid', 'health']];
  for (const group of status.groups) {
    rows.push([
      String(group.id),
      group.ranges.map((r) => `${hex(r.start)}..${hex(r.end - 1)}`).join(' '),
      group.members.map((m) => m.id).join(','),
      group.leader === null ? '?' : String(group.leader),
      group.epoch === undefined ? '-' : String(group.epoch),
      group.lastZxid === undefined
        ? '-'
        : `${epochOf(group.lastZxid)}.${counterOf(group.lastZxid)}`,
      group.leader === null ? 'no known leader' : 'ok',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
  const title = `lookup table from node ${status.node}; each group as its members report it:`;
  return [title, ...lines].join('\n');
}

/**
 * The cluster as its groups see themselves: the node asked gives the table, then each group
 * is described by the first of its members that answers (it knows its own leader and epoch).
 */
export async function clusterStatus(client: ZabkvClient): Promise<ClusterStatus> {
  const status = await askCluster(client);
  if (!status.formed) return status;
  const groups = await Promise.all(
    status.groups.map(async (group): Promise<GroupStatus> => {
      for (const member of group.members) {
        if (member.http === undefined) continue;
        const peer = new ZabkvClient({
          nodes: [`http://${member.http.host}:${member.http.port}`],
          timeoutMs: 2_000,
          attempts: 1,
        });
        try {
          const view = await askCluster(peer);
          const own = view.formed ? view.groups.find((g) => g.id === group.id) : undefined;
          if (own?.epoch !== undefined) return own;
        } catch {
          // that member is down: ask the next one
        } finally {
          await peer.close();
        }
      }
      return group;
    }),
  );
  return { ...status, groups };
}

/** The node's `/cluster` document: JSON the frontend serves typed as ClusterStatus. */
async function askCluster(client: ZabkvClient): Promise<ClusterStatus> {
  return (await client.cluster()) as ClusterStatus;
}
