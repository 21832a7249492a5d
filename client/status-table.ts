import type { ClusterStatus, FormedCluster, GroupStatus } from '../frontend/cluster-status.js';
import { counterOf, epochOf, type Zxid } from '../kv/zxid.js';
import { KvError } from './kv-errors.js';
import { oneShot, type OneShotOptions } from './one-shot.js';

// `zabkv status`: every member of every group asked for itself, as `etcdctl endpoint status`.

/** A member lagging its leader by more than this many transactions makes its group degraded. */
export const LAG_DEGRADED = 1_000;

export type GroupHealth = 'ok' | 'degraded' | 'no-leader';

export interface MemberRow {
  readonly id: number;
  readonly endpoint: string | null;
  readonly reachable: boolean;
  readonly role?: string;
  readonly epoch?: number;
  readonly lastZxid?: Zxid;
  readonly committedZxid?: Zxid;
  readonly appliedZxid?: Zxid;
  /** Transactions the leader has that this member has not applied; null: not known. */
  readonly lag: number | null;
  /** Why it is unreachable, when it is. */
  readonly error?: string;
}

export interface GroupRow {
  readonly id: number;
  readonly ranges: readonly string[];
  readonly health: GroupHealth;
  readonly leader: number | null;
  readonly members: readonly MemberRow[];
}

export interface StatusView {
  /** The node whose lookup table lists the groups. */
  readonly node: number;
  readonly formed: boolean;
  readonly groups: readonly GroupRow[];
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const zxidText = (zxid: Zxid | undefined) =>
  zxid === undefined ? '-' : `${epochOf(zxid)}.${counterOf(zxid)}`;

/** Transactions in `leader` not in `member` (within an epoch exact; across one, at least). */
export function lagBehind(leader: Zxid, member: Zxid): number {
  if (member >= leader) return 0;
  return epochOf(member) === epochOf(leader) ? leader - member : counterOf(leader);
}

async function clusterOf(options: OneShotOptions): Promise<ClusterStatus> {
  const answer = await oneShot(options, 'GET', '/cluster');
  return JSON.parse(answer.body.toString()) as ClusterStatus;
}

/** Each member's own view of its group: one /cluster call to it (no failover). */
async function memberRow(
  options: OneShotOptions,
  scheme: string,
  group: number,
  member: FormedCluster['groups'][number]['members'][number],
): Promise<{ row: Omit<MemberRow, 'lag'>; own: GroupStatus | undefined }> {
  if (member.http === undefined) {
    return {
      row: { id: member.id, endpoint: null, reachable: false, error: 'no address' },
      own: undefined,
    };
  }
  const endpoint = `${scheme}//${member.http.host}:${member.http.port}`;
  try {
    const view = await clusterOf({ ...options, endpoints: [endpoint], timeoutMs: 2_000 });
    const own = view.formed ? view.groups.find((g) => g.id === group) : undefined;
    return {
      row: {
        id: member.id,
        endpoint,
        reachable: true,
        ...(own?.role === undefined ? {} : { role: own.role }),
        ...(own?.epoch === undefined ? {} : { epoch: own.epoch }),
        ...(own?.lastZxid === undefined ? {} : { lastZxid: own.lastZxid }),
        ...(own?.committedZxid === undefined ? {} : { committedZxid: own.committedZxid }),
        ...(own?.appliedZxid === undefined ? {} : { appliedZxid: own.appliedZxid }),
      },
      own,
    };
  } catch (error) {
    const message = error instanceof KvError ? error.message : (error as Error).message;
    return { row: { id: member.id, endpoint, reachable: false, error: message }, own: undefined };
  }
}

/**
 * The cluster as its members see themselves: the first endpoint that answers gives the lookup
 * table, then every member of every group is asked for its own replica's state. A group has
 * `no-leader` when no reachable member leads it; `degraded` when a member is unreachable, not
 * following, or more than LAG_DEGRADED transactions behind; else `ok`.
 */
export async function statusView(options: OneShotOptions): Promise<StatusView> {
  const table = await clusterOf(options);
  if (!table.formed) return { node: table.node, formed: false, groups: [] };
  const scheme = new URL(options.endpoints[0]!).protocol;
  const groups = await Promise.all(
    table.groups.map(async (group): Promise<GroupRow> => {
      const asked = await Promise.all(
        group.members.map((member) => memberRow(options, scheme, group.id, member)),
      );
      const leader = asked.find((a) => a.own?.role === 'leading');
      const leaderZxid = leader?.own?.lastZxid;
      const members = asked.map(({ row }): MemberRow => ({
        ...row,
        lag:
          leaderZxid === undefined || row.appliedZxid === undefined
            ? null
            : lagBehind(leaderZxid, row.appliedZxid),
      }));
      const healthy = (m: MemberRow) =>
        m.reachable &&
        (m.role === 'leading' || m.role === 'following') &&
        m.lag !== null &&
        m.lag <= LAG_DEGRADED;
      return {
        id: group.id,
        ranges: group.ranges.map((r) => `${hex(r.start)}..${hex(r.end - 1)}`),
        health: leader === undefined ? 'no-leader' : members.every(healthy) ? 'ok' : 'degraded',
        leader: leader?.row.id ?? null,
        members,
      };
    }),
  );
  return { node: table.node, formed: true, groups };
}

const cell = (value: number | string | null | undefined) =>
  value === undefined || value === null ? '-' : String(value);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((v, c) => v.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The view as `-w table` (default), `simple` or `json`. */
export function formatStatus(view: StatusView, writeOut: 'simple' | 'json' | 'table'): string {
  if (writeOut === 'json') return JSON.stringify(view);
  if (!view.formed) {
    return `node ${view.node}: the cluster is not formed yet (waiting for nodes to check in)`;
  }
  if (writeOut === 'simple') {
    return view.groups
      .flatMap((group) => [
        `group ${group.id} ${group.health} leader ${cell(group.leader)}`,
        ...group.members.map(
          (m) =>
            `  member ${m.id} ${m.reachable ? cell(m.role) : `unreachable (${m.error ?? '?'})`}` +
            (m.reachable
              ? ` epoch ${cell(m.epoch)} last ${zxidText(m.lastZxid)} applied ${zxidText(m.appliedZxid)} lag ${cell(m.lag)}`
              : ''),
        ),
      ])
      .join('\n');
  }
  const rows = [
    [
      'GROUP',
      'HEALTH',
      'KEY HASH RANGE',
      'MEMBER',
      'ENDPOINT',
      'REACHABLE',
      'ROLE',
      'EPOCH',
      'LAST',
      'APPLIED',
      'LAG',
    ],
  ];
  for (const group of view.groups) {
    for (const m of group.members) {
      rows.push([
        String(group.id),
        group.health,
        group.ranges.join(' '),
        String(m.id),
        cell(m.endpoint),
        m.reachable ? 'yes' : 'no',
        cell(m.role),
        cell(m.epoch),
        zxidText(m.lastZxid),
        zxidText(m.appliedZxid),
        cell(m.lag),
      ]);
    }
  }
  return [
    `lookup table from node ${view.node}; each member as it reports itself:`,
    table(rows),
  ].join('\n');
}

/** `zabkv status`: prints the view; exit 1 when any group has no leader (or none is formed). */
export async function statusCommand(
  flags: OneShotOptions & { writeOut: 'simple' | 'json' | 'table' },
): Promise<void> {
  const view = await statusView(flags);
  console.log(formatStatus(view, flags.writeOut));
  if (!view.formed || view.groups.some((group) => group.health === 'no-leader')) {
    process.exitCode = 1;
  }
}
