import { ZabkvClient } from './zabkv-client.js';

interface GroupStatus {
  id: number;
  ranges: { start: number; end: number }[];
  members: { id: number; http?: { host: string; port: number } }[];
  leader: number | null;
  epoch?: number;
  lastZxid?: number;
  role?: string;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** `zabkv status`: one line per group, as seen by the node asked. */
export function formatStatus(status: unknown): string {
  const { formed, node, groups } = status as {
    formed: boolean;
    node: number;
    groups?: GroupStatus[];
  };
  if (!formed) return `node ${node}: the cluster is not formed yet (waiting for nodes to check in)`;
  const rows = [['group', 'key hash range', 'members', 'leader', 'epoch', 'zxid', 'health']];
  for (const group of groups ?? []) {
    rows.push([
      String(group.id),
      group.ranges.map((r) => `${hex(r.start)}..${hex(r.end - 1)}`).join(' '),
      group.members.map((m) => m.id).join(','),
      group.leader === null ? '?' : String(group.leader),
      group.epoch === undefined ? '-' : String(group.epoch),
      group.lastZxid === undefined
        ? '-'
        : `${Math.floor(group.lastZxid / 2 ** 32)}.${group.lastZxid % 2 ** 32}`,
      group.leader === null ? 'no known leader' : 'ok',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
  return [`lookup table from node ${node}; each group as its members report it:`, ...lines].join(
    '\n',
  );
}

/**
 * The cluster as its groups see themselves: the node asked gives the table, then each group
 * is described by the first of its members that answers (it knows its own leader and epoch).
 */
export async function clusterStatus(client: ZabkvClient): Promise<unknown> {
  const status = (await client.cluster()) as { formed: boolean; groups?: GroupStatus[] };
  if (!status.formed || status.groups === undefined) return status;
  const groups = await Promise.all(
    status.groups.map(async (group) => {
      for (const member of group.members) {
        if (member.http === undefined) continue;
        const peer = new ZabkvClient({
          nodes: [`http://${member.http.host}:${member.http.port}`],
          timeoutMs: 2_000,
          attempts: 1,
        });
        try {
          const view = (await peer.cluster()) as { groups: GroupStatus[] };
          const own = view.groups.find((g) => g.id === group.id);
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
