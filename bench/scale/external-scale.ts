// etcd and ZooKeeper at one data set, with the same preload and load phases as zabkv.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EtcdTarget, ZooKeeperTarget, type LoadTarget } from '../../loadgen/load-target.js';
import { startEtcd, startZooKeeper, type ExternalCluster } from '../systems/external-clusters.js';
import {
  READS,
  WRITES,
  errorCount,
  phaseSeconds,
  runPhase,
  type DataSet,
  type Workload,
} from './phase.js';
import { preload, type Preload } from './preload.js';
import { DiskWatch } from './disk-activity.js';
import type { Measured, ScaleRun, ScaleSettings } from './zabkv-scale.js';

/** As in the side-by-side suite: each session of the zookeeper client pipelines requests. */
const ZOOKEEPER_SESSIONS = 16;
/**
 * Below Linux's ephemeral range (32768–60999): there, an outgoing connection of the load just
 * measured (or of anything else on the machine) can hold the port a server is about to bind.
 */
const ETCD_PORT = 25_791;
const ZOOKEEPER_PORT = 26_811;
/** A million znodes do not fit in the suite's 512 MiB; the figures used -Xmx1g. */
const ZOOKEEPER_HEAP_MIB = 1024;

async function measure(
  target: LoadTarget,
  dir: string,
  data: DataSet,
  workload: Workload,
  settings: ScaleSettings,
): Promise<Measured> {
  const durationSec = phaseSeconds(workload, settings);
  const disk = new DiskWatch(dir);
  const result = await runPhase({ target, data, workload, ...settings, durationSec });
  return { result, errors: errorCount(result), leaderChanges: null, disk: disk.writes() };
}

async function loadEtcd(
  endpoints: string[],
  data: DataSet,
  settings: ScaleSettings,
): Promise<{ target: LoadTarget; loaded: Preload }> {
  const target = new EtcdTarget(endpoints, settings.clients);
  try {
    const loaded = await preload(target, data.keys, data.valueSize, settings.preloadWriters, (n) =>
      console.log(`  etcd preload: ${n.toLocaleString('en-US')}`),
    );
    return { target, loaded };
  } catch (error) {
    await target.close();
    throw error;
  }
}

/** The target creates one (empty) znode per key when it connects: ZooKeeper's preload. */
async function loadZooKeeper(
  endpoints: string[],
  data: DataSet,
): Promise<{ target: LoadTarget; loaded: Preload }> {
  const started = performance.now();
  const target = await ZooKeeperTarget.connect(endpoints, ZOOKEEPER_SESSIONS, data.keys, (n) =>
    console.log(`  zookeeper preload: ${n.toLocaleString('en-US')}`),
  );
  return { target, loaded: { seconds: (performance.now() - started) / 1000, errors: 0 } };
}

export async function runExternalScale(
  system: 'etcd' | 'zookeeper',
  dir: string,
  data: DataSet,
  settings: ScaleSettings,
): Promise<ScaleRun> {
  const cluster: ExternalCluster =
    system === 'etcd'
      ? await startEtcd(join(dir, 'etcd'), ETCD_PORT)
      : await startZooKeeper(join(dir, 'zk'), ZOOKEEPER_PORT, ZOOKEEPER_HEAP_MIB);
  try {
    const { target, loaded } =
      system === 'etcd'
        ? await loadEtcd(cluster.endpoints, data, settings)
        : await loadZooKeeper(cluster.endpoints, data);
    console.log(`  ${system} preload: ${loaded.seconds.toFixed(1)} s`);
    try {
      const writes = await measure(target, dir, data, WRITES, settings);
      const reads = await measure(target, dir, data, READS, settings);
      return { system, data, preload: loaded, writes, reads };
    } finally {
      await target.close();
    }
  } finally {
    await cluster.stop();
  }
}
