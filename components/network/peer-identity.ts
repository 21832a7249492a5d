import { NODE_ID_MAX, type NodeId } from './node-id.js';

/**
 * How a certificate names the node it belongs to: a subject alternative name URI
 * `zabkv://<cluster id>/node/<id>` (SPIFFE-style), plus `zabkv://<cluster id>/role/<role>`
 * for a role the node holds, e.g. `bootstrap` on the bootstrap node, which other nodes reach
 * by a well-known alias id. The cluster id is part of the name, so a certificate of one cluster
 * is no use in another even under the same CA. The subject CN (`node-<id>`) is for people and
 * binds nothing.
 */
export function nodeUri(clusterId: string, id: number): string {
  return `zabkv://${encodeURIComponent(clusterId)}/node/${id}`;
}

export function roleUri(clusterId: string, role: string): string {
  return `zabkv://${encodeURIComponent(clusterId)}/role/${role}`;
}

export interface CertificateNames {
  readonly nodes: ReadonlySet<number>;
  readonly roles: ReadonlySet<string>;
}

const ENTRY = /^URI:zabkv:\/\/([^/\s",]+)\/(node|role)\/([a-z0-9-]{1,64})$/;

/**
 * The node ids and roles in cluster `clusterId` that a certificate's subject alternative names
 * give it, from Node's text form (`cert.subjectaltname`, entries joined by ", "; an entry with
 * unusual characters is quoted by Node and so never matches).
 */
export function certificateNames(
  subjectAltName: string | undefined,
  clusterId: string,
): CertificateNames {
  const nodes = new Set<number>();
  const roles = new Set<string>();
  const cluster = encodeURIComponent(clusterId);
  for (const entry of (subjectAltName ?? '').split(', ')) {
    const match = ENTRY.exec(entry);
    if (match === null || match[1] !== cluster) continue;
    if (match[2] === 'role') roles.add(match[3]!);
    else if (/^(0|[1-9]\d{0,4})$/.test(match[3]!) && Number(match[3]) <= NODE_ID_MAX) {
      nodes.add(Number(match[3]));
    }
  }
  return { nodes, roles };
}

/**
 * Every id a certificate may act as: its node ids, and the id of each role it holds that
 * `roles` maps to one (e.g. `bootstrap` to the bootstrap alias).
 */
export function certificateIds(
  names: CertificateNames,
  roles: Readonly<Record<string, NodeId>>,
): Set<NodeId> {
  const ids = new Set<NodeId>([...names.nodes].map((id) => id as NodeId));
  for (const role of names.roles) {
    const id = roles[role];
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

/** "node 4, role bootstrap" or "no zabkv name of cluster c", for log lines and errors. */
export function describeNames(names: CertificateNames, clusterId: string): string {
  const parts = [
    ...[...names.nodes].map((id) => `node ${id}`),
    ...[...names.roles].map((role) => `role ${role}`),
  ];
  return parts.length === 0 ? `no zabkv name of cluster ${clusterId}` : parts.join(', ');
}
