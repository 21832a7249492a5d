import { hashTag, keyHash } from '../bootstrap/lookup-table.js';
import type { ClusterStatus } from './cluster-status.js';

/** `GET /cluster?key=<k>`: which group holds a key, and why (its hash and hash tag). */
export interface KeyPlacement {
  readonly key: string;
  /** The part of the key that was hashed; null: the whole key (it has no hash tag). */
  readonly tag: string | null;
  readonly hash: number;
  readonly group: number;
  /** The lookup table this answer was read from. */
  readonly tableVersion: number;
}

/** Where `key` lives in the table behind `status`; null before the cluster is formed. */
export function placementOf(status: ClusterStatus, key: string): KeyPlacement | null {
  if (!status.formed) return null;
  const hash = keyHash(key);
  const owner = status.groups.find((g) =>
    g.ranges.some((range) => range.start <= hash && hash < range.end),
  );
  // The table's ranges cover the whole hash space (LookupTable.from checks it).
  if (owner === undefined) throw new Error(`no group owns hash ${hash}`);
  return { key, tag: hashTag(key), hash, group: owner.id, tableVersion: status.version };
}
