// etcd and ZooKeeper at one data set, with the same preload and load phases as zabkv.
import { join } from 'node:path';
import { EtcdTarget, ZooKeeperTarget, type LoadTarget } from '../../loadgen/load-target.js';
import { startEtcd, startZooKeeper, type ExternalCluster } from '../systems/external-clusters.js';
import { READS, WRITES, errorCount, runPhase, type DataSet, type Workload } from './phase.js';
import { preload, type Preload } from './preload.js';
import type { Measured, ScaleRun, ScaleSettings } from './zabkv-scale.js';
import { performance } from 'node:perf_hooks';

/** As in the side-by-side suite: each session of the zookeeper client pipelines requests. */
const ZOOKEEPER_SESSIONS = 16;

async function measure(
  target: LoadTarget,
  data: DataSet,
  workload: Workload,
  settings: ScaleSettings,
): Promise<Measured> {
  const result = await runPhase({ target, data, workload, ...settings });
  return { result, errors: errorCount(result), leaderChanges: null };
}

export async function runExternalScale(
  system: 'etcd' | 'zookeeper',
  dir: string,
  data: DataSet,
  settings: ScaleSettings,
): Promise<ScaleRun> {
  let cluster: ExternalCluster | undefined;
  try {
    cluster =
      system === 'etcd'
        ? await startEtcd(join(dir, 'etcd'), 35_791)
        : await startZooKeeper(join(dir, 'zk'), 36_811);
    const endpoints = cluster.endpoints;
    let loaded: Preload;
    let target: LoadTarget;
    if (system === 'etcd') {
      target = new EtcdTarget(endpoints, settings.clients);
      loaded = await preload(target, data.keys, data.valueSize, settings.preloadWriters, (n) =>
        console.log(`  etcd preload: ${n.toLocaleString('en-US')}`),
      );
    } else {
      // The target creates one (empty) znode per key when it connects: ZooKeeper's preload.
      const started = performance.now();
      target = await ZooKeeperTarget.connect(endpoints, ZOOKEEPER_SESSIONS, data.keys);
      loaded = { seconds: (performance.now() - started) / 1000, errors: 0 };
    }
    console.log(`  ${system} preload: ${loaded.seconds.toFixed(1)} s`);
    try {
      const writes = await measure(target, data, WRITES, settings);
      const reads = await measure(target, data, READS, settings);
      return { system, data, preload: loaded, writes, reads };
    } finally {
      await target.close();
    }
  } finally {
    await cluster?.stop();
  }
}
