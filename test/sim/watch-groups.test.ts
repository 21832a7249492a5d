import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../components/network/node-id.js';
import { ClientPool } from '../../sim/client-pool.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';
import { WatchCheck } from '../../sim/watch-check.js';

/**
 * Watchers of two groups polling through any of six nodes, so half their polls are relayed by a
 * node of the other group, while members crash, restart and are cut off. Every batch is checked
 * against the committed changes (sim/watch-check.ts); at the end every watcher catches up.
 */
function run(seed: number) {
  const cluster = new PartitionedCluster(seed, 6, 3);
  const { sim } = cluster;
  const random = sim.random.fork('test');
  expect(sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
  const clients = new ClientPool(cluster, random.fork('clients'), { clients: 6, keys: 8 });
  const watches = new WatchCheck(cluster, random.fork('watchers'), 8);
  clients.start();
  watches.start();
  const faults: string[] = [];
  const fault = (): void => {
    if (sim.now > 5_000) return;
    const victim: NodeId = random.pick(cluster.ids);
    if (random.int(0, 1) === 0 && sim.isUp(victim)) {
      cluster.crash(victim);
      sim.after(random.int(200, 1_000), () => sim.restart(victim));
      faults.push(`crash ${victim}`);
    } else {
      sim.fabric.partition([[victim], cluster.ids.filter((id) => id !== victim)]);
      sim.after(random.int(300, 1_500), () => sim.fabric.heal());
      faults.push(`cut ${victim}`);
    }
    sim.after(random.int(400, 900), fault);
  };
  sim.after(300, fault);
  sim.runFor(6_000);
  clients.stop();
  watches.stop();
  sim.fabric.heal();
  for (const id of cluster.ids) if (!sim.isUp(id)) sim.restart(id);
  expect(sim.runUntil(() => cluster.ready(), 20_000)).toBe(true);
  expect(watches.catchUp(30_000)).toBe(true);
  return { faults, stats: watches.stats };
}

describe('watches across two groups, through any node, under crashes and cuts', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: every batch is exactly the committed changes that match`, () => {
      const { faults, stats } = run(seed);
      expect(faults.length).toBeGreaterThan(3);
      expect(stats.events).toBeGreaterThan(50);
      expect(stats.batches).toBeGreaterThan(100);
    });
  }
});
