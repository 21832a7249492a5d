import { describe, expect, it } from 'vitest';
import type { KvTxn } from '../../kv/txn.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** A hash tag of each group: tagged keys of it all live there. */
function tagOfEachGroup(cluster: PartitionedCluster): Map<number, string> {
  const tags = new Map<number, string>();
  for (let i = 0; tags.size < cluster.table.groups.length; i++) {
    const group = cluster.table.groupOfKey(`{t${i}}`).id;
    if (!tags.has(group)) tags.set(group, `t${i}`);
  }
  return tags;
}

describe('transactions through the overlay, 2 groups × 3 replicas', () => {
  it('runs a transaction on tagged keys from any node, atomically, and answers with its result', () => {
    const cluster = new PartitionedCluster(31, 6, 3);
    expect(cluster.sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    for (const [group, tag] of tagOfEachGroup(cluster)) {
      const a = `{${tag}}/a`;
      const b = `{${tag}}/b`;
      for (const node of cluster.ids) {
        // Create both keys only if neither exists: the first node's transaction wins.
        const create: KvTxn = {
          op: 'txn',
          compare: [
            { key: a, version: 0 },
            { key: b, version: 0 },
          ],
          success: [
            { op: 'put', key: a, value: bytes(`a-${node}`) },
            { op: 'put', key: b, value: bytes(`b-${node}`) },
          ],
          failure: [{ op: 'get', key: a }],
        };
        const outcome = cluster.call(node, create);
        expect(outcome?.status, `group ${group} via ${node}`).toBe(200);
        const result = outcome?.status === 200 ? outcome.txn : undefined;
        expect(result?.succeeded).toBe(node === cluster.ids[0]);
        if (node !== cluster.ids[0]) {
          const got = result?.results[0];
          expect(got?.op === 'get' && new TextDecoder().decode(got.value)).toBe(
            `a-${cluster.ids[0]}`,
          );
        }
      }
      // Both keys carry the transaction's zxid as their version.
      const a1 = cluster.call(cluster.ids[3]!, { op: 'get', key: a, consistency: 'linearizable' });
      const b1 = cluster.call(cluster.ids[1]!, { op: 'get', key: b, consistency: 'linearizable' });
      expect(a1).toMatchObject({ status: 200 });
      expect((a1 as { version: number }).version).toBe((b1 as { version: number }).version);
    }
  });

  it("refuses keys of two groups with 422, naming each key's group, and proposes nothing", () => {
    const cluster = new PartitionedCluster(32, 6, 3);
    expect(cluster.sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    const [[g0, t0], [g1, t1]] = [...tagOfEachGroup(cluster)];
    const x = `{${t0}}/x`;
    const y = `{${t1}}/y`;
    const outcome = cluster.call(cluster.ids[0]!, {
      op: 'txn',
      compare: [],
      success: [
        { op: 'put', key: x, value: bytes('1') },
        { op: 'put', key: y, value: bytes('2') },
      ],
      failure: [],
    });
    expect(outcome).toMatchObject({ status: 422, groups: { [x]: g0, [y]: g1 } });
    for (const key of [x, y]) {
      expect(
        cluster.call(cluster.ids[2]!, { op: 'get', key, consistency: 'linearizable' })?.status,
      ).toBe(404);
    }
  });
});
