import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { nodeId, type NodeId } from '../components/network/node-id.js';

/** Keys hash into [0, 2^32); the table cuts that space into contiguous ranges. */
export const HASH_SPACE = 0x1_0000_0000;

const nodeIdSchema = Type.Integer({ minimum: 0, maximum: 65_535 });

/** The table's wire and disk form: sent to every node and persisted (DESIGN §5). */
const endpointSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  },
  { additionalProperties: false },
);

/** Where a node listens: its peer port (TCP between nodes) and its HTTP port (clients). */
export const nodeAddressSchema = Type.Object(
  { id: nodeIdSchema, peer: endpointSchema, http: endpointSchema },
  { additionalProperties: false },
);

export type NodeAddress = Static<typeof nodeAddressSchema>;

export const lookupTableSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    nodes: Type.Array(nodeAddressSchema, { minItems: 1 }),
    groups: Type.Array(
      Type.Object(
        { id: Type.Integer({ minimum: 0 }), members: Type.Array(nodeIdSchema, { minItems: 1 }) },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    /** Range i covers [starts[i], starts[i+1]) and belongs to owners[i]; starts[0] is 0. */
    starts: Type.Array(Type.Integer({ minimum: 0, maximum: HASH_SPACE - 1 }), { minItems: 1 }),
    owners: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type LookupTableData = Static<typeof lookupTableSchema>;

const check = TypeCompiler.Compile(lookupTableSchema);

export interface GroupInfo {
  readonly id: number;
  readonly members: readonly NodeId[];
}

export interface KeyRange {
  readonly group: number;
  /** Inclusive. */
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

/**
 * The part of `key` that is hashed: between its first `{` and the first `}` after it, when that
 * part is not empty (Redis Cluster's hash tag rule), so `{user42}/cart` and `{user42}/profile`
 * live in one group and a transaction can span them. Null when the key has no tag: then the
 * whole key is hashed, as it was before tags existed, so such keys never moved.
 */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return null;
  // Braces are ASCII, so the cut never splits a surrogate pair: the tag is whole UTF-8.
  return key.slice(open + 1, close);
}

/**
 * The 32-bit hash of a key: CRC-32 of the UTF-8 bytes of its hash tag, or of the whole key when
 * it has none (stable across versions and platforms).
 */
export function keyHash(key: string): number {
  return crc32(hashTag(key) ?? key);
}

/**
 * Which replication group owns which keys: the hash space cut into ranges, each owned by one
 * group, and each group's members. Versioned: a node keeps the highest version it has seen.
 */
export class LookupTable {
  private readonly byId: ReadonlyMap<number, GroupInfo>;
  private readonly groupList: readonly GroupInfo[];

  private constructor(private readonly data: LookupTableData) {
    this.groupList = data.groups.map((g) => ({ id: g.id, members: g.members.map(nodeId) }));
    this.byId = new Map(this.groupList.map((g) => [g.id, g]));
  }

  /**
   * Assigns `nodes` to ⌊n / replication⌋ groups in order (the remainder joins the first
   * groups, one each) and gives each group an equal share of the hash space.
   */
  static assign(version: number, nodes: readonly NodeAddress[], replication: number): LookupTable {
    assert(Number.isInteger(replication) && replication >= 1, 'replication must be ≥ 1');
    assert(
      nodes.length >= replication,
      `${nodes.length} nodes cannot make a group of ${replication}`,
    );
    const count = Math.floor(nodes.length / replication);
    const sorted = nodes.map((n) => nodeId(n.id)).sort((a, b) => a - b);
    const groups = Array.from({ length: count }, (_, id) => ({ id, members: [] as NodeId[] }));
    sorted.forEach((node, i) =>
      groups[i < count * replication ? Math.floor(i / replication) : i % count]!.members.push(node),
    );
    const starts = groups.map((_, i) => Math.floor((i * HASH_SPACE) / count));
    return LookupTable.from({
      version,
      nodes: [...nodes].sort((a, b) => a.id - b.id),
      groups,
      starts,
      owners: groups.map((g) => g.id),
    });
  }

  /** Checks untrusted data (from the network or disk); throws with a reason when it is not a table. */
  static from(data: unknown): LookupTable {
    if (!check.Check(data)) {
      const first = check.Errors(data).First();
      throw new Error(
        `not a lookup table: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}`,
      );
    }
    const { groups, starts, owners } = data;
    assert(starts.length === owners.length, 'starts and owners differ in length');
    assert(starts[0] === 0, 'the first range must start at 0');
    for (let i = 1; i < starts.length; i++)
      assert(starts[i]! > starts[i - 1]!, 'ranges out of order');
    const ids = new Set(groups.map((g) => g.id));
    assert(ids.size === groups.length, 'a group id is listed twice');
    for (const owner of owners) assert(ids.has(owner), `range owned by unknown group ${owner}`);
    const members = groups.flatMap((g) => g.members);
    assert(new Set(members).size === members.length, 'a node belongs to two groups');
    const known = new Set(data.nodes.map((n) => n.id));
    assert(known.size === data.nodes.length, 'a node is listed twice');
    for (const member of members) assert(known.has(member), `no address for node ${member}`);
    return new LookupTable(data);
  }

  get version(): number {
    return this.data.version;
  }

  get nodes(): readonly NodeAddress[] {
    return this.data.nodes;
  }

  address(node: NodeId): NodeAddress | undefined {
    return this.data.nodes.find((n) => n.id === node);
  }

  get groups(): readonly GroupInfo[] {
    return this.groupList;
  }

  group(id: number): GroupInfo | undefined {
    return this.byId.get(id);
  }

  /** The group this node belongs to, if any. */
  groupOfNode(node: NodeId): GroupInfo | undefined {
    return this.groupList.find((g) => g.members.includes(node));
  }

  groupOfKey(key: string): GroupInfo {
    const hash = keyHash(key);
    const { starts, owners } = this.data;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (starts[middle]! <= hash) low = middle;
      else high = middle - 1;
    }
    return this.byId.get(owners[low]!)!;
  }

  ranges(): KeyRange[] {
    const { starts, owners } = this.data;
    return starts.map((start, i) => ({
      group: owners[i]!,
      start,
      end: starts[i + 1] ?? HASH_SPACE,
    }));
  }

  toData(): LookupTableData {
    return this.data;
  }
}
