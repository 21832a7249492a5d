// zabkv partitioned or not: one group of 3 against 6 nodes in two groups of 3, on the same
// machine, measured alternately. Both clusters are fresh and live only for this part, so
// neither carries the history of the side-by-side measurements.
import { join } from 'node:path';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import {
  Cells,
  READS,
  WRITES,
  measureOnce,
  warmUp,
  type Connect,
  type Settings,
} from './measure.js';

export const ONE_GROUP = '1 group';
export const TWO_GROUPS = '2 groups';
export const GROUP_WORKLOADS = [WRITES, READS] as const;
export const GROUP_CLIENTS = [64, 256] as const;

function zabkvCluster(root: string, nodes: number, firstPort: number): LocalCluster {
  return new LocalCluster({
    nodes,
    replication: 3,
    dataDir: join(root, `zabkv-${nodes}`),
    // Below the ephemeral range (32768..) and apart from the other suite and failover ports.
    firstHttpPort: firstPort,
    firstPeerPort: firstPort + 1_000,
    env: { LOG_LEVEL: 'warn' },
  });
}

export async function runGroups(root: string, settings: Settings): Promise<Cells> {
  const one = zabkvCluster(root, 3, 31_001);
  const two = zabkvCluster(root, 6, 29_001);
  one.start();
  two.start();
  try {
    await Promise.all([one.ready(60_000), two.ready(60_000)]);
    // Clients spread their requests over every node of the cluster, as the side-by-side
    // measurements do, so with 2 groups half of them reach a node outside the key's group.
    const connect =
      (cluster: LocalCluster): Connect =>
      async (clients) => {
        const nodes = Array.from({ length: cluster.options.nodes }, (_, i) =>
          httpUrl(cluster.options, i + 1),
        );
        return new ZabkvTarget(nodes, clients);
      };
    const clusters: [string, Connect][] = [
      [ONE_GROUP, connect(one)],
      [TWO_GROUPS, connect(two)],
    ];
    for (const [name, open] of clusters) await warmUp(name, open);
    const cells = new Cells();
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      // Who goes first swaps every repeat, so a drift in the machine's speed (the other
      // cluster warming up, anything else running) does not always favour the same one.
      const order = repeat % 2 === 0 ? clusters : [...clusters].reverse();
      // Writes first: they fill the key space before the reads of the same repeat.
      for (const workload of GROUP_WORKLOADS) {
        for (const clients of GROUP_CLIENTS) {
          for (const [name, open] of order) {
            await measureOnce(cells, settings, name, open, workload, clients, repeat);
          }
        }
      }
    }
    return cells;
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
}
