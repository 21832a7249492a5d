import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { HASH_SPACE, LookupTable, keyHash } from '../../bootstrap/lookup-table.js';

const nodes = (...ids: number[]) =>
  ids.map((id) => ({
    id: nodeId(id),
    peer: { host: '127.0.0.1', port: 7000 + id },
    http: { host: '127.0.0.1', port: 8000 + id },
  }));

describe('LookupTable', () => {
  it('assigns nodes to groups of the replication factor and cuts the hash space evenly', () => {
    const table = LookupTable.assign(1, nodes(6, 1, 5, 2, 4, 3), 3);
    expect(table.groups).toEqual([
      { id: 0, members: [1, 2, 3] },
      { id: 1, members: [4, 5, 6] },
    ]);
    expect(table.ranges()).toEqual([
      { group: 0, start: 0, end: HASH_SPACE / 2 },
      { group: 1, start: HASH_SPACE / 2, end: HASH_SPACE },
    ]);
    expect(table.groupOfNode(nodeId(5))?.id).toBe(1);
    expect(table.groupOfNode(nodeId(9))).toBeUndefined();
  });

  it('puts leftover nodes into the first groups, one each', () => {
    const table = LookupTable.assign(1, nodes(1, 2, 3, 4, 5, 6, 7, 8), 3);
    expect(table.groups.map((g) => g.members.length)).toEqual([4, 4]);
  });

  it('maps every key to the group owning its hash, spreading keys over the groups', () => {
    const table = LookupTable.assign(1, nodes(1, 2, 3, 4, 5, 6, 7, 8, 9), 3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) {
      const key = `key-${i}`;
      const group = table.groupOfKey(key);
      const range = table.ranges().find((r) => r.group === group.id)!;
      expect(keyHash(key)).toBeGreaterThanOrEqual(range.start);
      expect(keyHash(key)).toBeLessThan(range.end);
      counts[group.id]!++;
    }
    for (const count of counts) expect(count).toBeGreaterThan(9_000);
  });

  it('survives encoding (network, disk) and rejects anything that is not a consistent table', () => {
    const packr = new Packr({ useRecords: false });
    const table = LookupTable.assign(3, nodes(1, 2, 3), 3);
    const copy = LookupTable.from(packr.unpack(packr.pack(table.toData())));
    expect(copy.version).toBe(3);
    expect(copy.groupOfKey('x')).toEqual(table.groupOfKey('x'));
    const good = table.toData();
    const bad: unknown[] = [
      null,
      { ...good, version: 0 },
      { ...good, extra: 1 },
      { ...good, starts: [5] },
      { ...good, owners: [7] },
      { ...good, starts: [0, 0], owners: [0, 0] },
      { ...good, groups: [...good.groups, { id: 1, members: [1] }] },
      { ...good, nodes: good.nodes.slice(1) },
    ];
    for (const data of bad) expect(() => LookupTable.from(data)).toThrow();
  });

  it('refuses a replication factor larger than the cluster', () => {
    expect(() => LookupTable.assign(1, nodes(1, 2), 3)).toThrow(/cannot make a group/);
  });
});
