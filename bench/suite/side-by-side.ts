// zabkv, etcd and ZooKeeper, each a 3-node cluster with fsync on, measured in turn within each
// repeat so that a slow spell of the machine hits all three alike.
import { join } from 'node:path';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { EtcdTarget, ZabkvTarget, ZooKeeperTarget } from '../../loadgen/load-target.js';
import { startEtcd, startZooKeeper, type ExternalCluster } from '../systems/external-clusters.js';
import {
  Cells,
  KEYS,
  READS,
  STALE_READS,
  WRITES,
  measureOnce,
  warmUp,
  type Connect,
  type Settings,
  type Workload,
} from './measure.js';

/** The order of every table and plot, so each system keeps its colour in every chart. */
export const SYSTEMS = ['zabkv', 'etcd', 'zookeeper'] as const;
export const CLIENTS = [1, 16, 64, 256] as const;
/** The concurrency of the stale reads and of the latency and timeline plots. */
export const PLOT_CLIENTS = 64;
/**
 * ZooKeeper's clients are sessions of the `zookeeper` npm client, each of which pipelines
 * many requests, so beyond this the in-flight requests share sessions (as the text says).
 */
const ZOOKEEPER_SESSIONS = 16;

export interface SideBySideParts {
  /** Writes and linearizable reads at every client count. */
  readonly systems: boolean;
  /** Stale reads at PLOT_CLIENTS. */
  readonly stale: boolean;
}

/** Apart, because each part has its own section of BENCHMARKS.md. */
export interface SideBySideCells {
  readonly systems: Cells;
  readonly stale: Cells;
}

export async function runSideBySide(
  root: string,
  settings: Settings,
  parts: SideBySideParts,
): Promise<SideBySideCells> {
  const zabkv = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: join(root, 'zabkv'),
    firstHttpPort: 31_001,
    firstPeerPort: 32_001,
    env: { LOG_LEVEL: 'warn' },
  });
  zabkv.start();
  // allSettled: if one system fails to start, the other must still be stopped.
  const external = await Promise.allSettled([
    startEtcd(join(root, 'etcd')),
    startZooKeeper(join(root, 'zk')),
  ]);
  const started = external.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const [etcd, zookeeper] = external.map((s) => {
      if (s.status === 'rejected') throw s.reason;
      return s.value;
    }) as [ExternalCluster, ExternalCluster];
    await zabkv.ready(60_000);
    const zabkvNodes = [1, 2, 3].map((n) => httpUrl(zabkv.options, n));
    const systems: [string, Connect][] = [
      ['zabkv', async (clients) => new ZabkvTarget(zabkvNodes, clients)],
      ['etcd', async (clients) => new EtcdTarget(etcd.endpoints, clients)],
      [
        'zookeeper',
        (clients) =>
          ZooKeeperTarget.connect(zookeeper.endpoints, Math.min(clients, ZOOKEEPER_SESSIONS), KEYS),
      ],
    ];
    // The order within a repeat: as the tables read, each measurement on all three in turn.
    const cells: SideBySideCells = { systems: new Cells(), stale: new Cells() };
    const measurements: [Cells, Workload, number][] = [];
    if (parts.systems) {
      for (const workload of [WRITES, READS])
        for (const clients of CLIENTS) measurements.push([cells.systems, workload, clients]);
    }
    if (parts.stale) measurements.push([cells.stale, STALE_READS, PLOT_CLIENTS]);
    for (const [name, connect] of systems) await warmUp(name, connect);
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      for (const [into, workload, clients] of measurements) {
        for (const [name, connect] of systems) {
          await measureOnce(into, settings, name, connect, workload, clients, repeat);
        }
      }
    }
    return cells;
  } finally {
    await Promise.all([zabkv.stop(), ...started.map((c) => c.stop())]);
  }
}
