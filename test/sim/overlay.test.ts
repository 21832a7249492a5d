import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../components/network/node-id.js';
import type { KvOutcome } from '../../kv/kv-operation.js';
import { checkOperations } from '../../sim/linearizability/checker.js';
import { keysOf, kvModel } from '../../sim/linearizability/kv-model.js';
import { ClientPool } from '../../sim/client-pool.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';
import type { ClientInput } from '../../sim/history-recorder.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';

const FILE = 'test/sim/overlay.test.ts';

function call(cluster: PartitionedCluster, node: NodeId, input: ClientInput) {
  const result: { outcome?: KvOutcome | undefined; done: boolean } = { done: false };
  const id = cluster.submit(node, cluster.newClientId(), input, (outcome) =>
    Object.assign(result, { outcome, done: true }),
  );
  cluster.sim.runUntil(() => result.done, 10_000);
  return { outcome: result.outcome, routed: cluster.routed.get(id) };
}

/** Keys owned by each group: `count` of them per group. */
function keysByGroup(cluster: PartitionedCluster, count: number): Map<number, string[]> {
  const keys = new Map<number, string[]>(cluster.table.groups.map((g) => [g.id, []]));
  for (let i = 0; [...keys.values()].some((list) => list.length < count); i++) {
    const list = keys.get(cluster.table.groupOfKey(`key${i}`).id)!;
    if (list.length < count) list.push(`key${i}`);
  }
  return keys;
}

describe('Overlay: any key at any node, 2 groups × 3 replicas', () => {
  it('routes every operation from every node to the owning group and back', () => {
    const cluster = new PartitionedCluster(21, 6, 3);
    expect(cluster.sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    for (const keys of keysByGroup(cluster, 2).values()) {
      for (const node of cluster.ids) {
        const key = `${keys[0]}-${node}`;
        const owner = cluster.table.groupOfKey(key).id;
        const put = call(cluster, node, { op: 'put', key, value: `from-${node}` });
        expect(put.outcome?.status).toBe(200);
        expect(put.routed?.group).toBe(owner);
        const version = (put.outcome as { version: number }).version;
        for (const reader of cluster.ids) {
          const got = call(cluster, reader, { op: 'get', key });
          expect(got.outcome).toMatchObject({ status: 200, version });
          expect(cluster.table.group(owner)!.members).toContain(got.routed!.node);
        }
        expect(call(cluster, node, { op: 'delete', key }).outcome?.status).toBe(204);
      }
    }
  });

  it('keeps serving both groups when a group leader is killed under load: linearizable, nothing acknowledged lost', () => {
    for (const seed of seedsToRun(10, 2100)) {
      runSeed(seed, FILE, () => {
        const cluster = new PartitionedCluster(seed, 6, 3);
        const { sim } = cluster;
        expect(sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
        const clients = new ClientPool(cluster, sim.random.fork('clients'), {
          clients: 8,
          keys: 8,
        });
        clients.start();
        sim.runFor(300);
        const group = seed % 2;
        const leader = cluster.leaderOf(group)!;
        cluster.crash(leader);
        sim.runFor(1_500);
        clients.stop();
        sim.restart(leader);
        expect(sim.runUntil(() => cluster.ready(), 10_000)).toBe(true);
        // Writes to keys of both groups succeed again, through every node.
        for (const node of cluster.ids) {
          for (const [, keys] of keysByGroup(cluster, 1)) {
            expect(
              call(cluster, node, { op: 'put', key: keys[0]!, value: `after-${node}` }).outcome
                ?.status,
            ).toBe(200);
          }
        }
        const keys = new Set(cluster.recorder.history.flatMap((op) => keysOf(op.input)));
        for (const key of keys) call(cluster, cluster.ids[0]!, { op: 'get', key });
        cluster.recorder.abandon();
        expect(checkOperations(kvModel, cluster.recorder.history, { maxSteps: 2_000_000 })).toBe(
          'ok',
        );
      });
    }
  });

  it('answers 503 for a key whose whole group is down, and serves the other group meanwhile', () => {
    const cluster = new PartitionedCluster(23, 6, 3);
    expect(cluster.sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    const byGroup = keysByGroup(cluster, 1);
    const down = cluster.table.group(0)!.members;
    for (const id of down) cluster.crash(id);
    const caller = cluster.table.group(1)!.members[0]!;
    cluster.sim.runFor(500); // the failure detector suspects them
    const dead = call(cluster, caller, { op: 'put', key: byGroup.get(0)![0]!, value: 'x' });
    // Every member is suspected: nothing is sent, so the write provably did not happen.
    expect(dead.outcome?.status).toBe(503);
    const live = call(cluster, caller, { op: 'put', key: byGroup.get(1)![0]!, value: 'y' });
    expect(live.outcome?.status).toBe(200);
  });
});
