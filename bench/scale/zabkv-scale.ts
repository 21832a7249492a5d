// zabkv at one data set: one group of 3 nodes, preload, writes, reads, a follower's restart,
// and a wiped follower's SNAP sync while writes go on.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { LocalCluster, httpUrl, isReady } from '../../client/local-cluster.js';
import { ZabkvClient } from '../../client/zabkv-client.js';
import type { FormedCluster, GroupStatus } from '../../frontend/cluster-status.js';
import type { LoadResult } from '../../loadgen/load-generator.js';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import { wipeGroupData } from '../../node/group-data.js';
import { GC_REPORT_WAIT_MS } from '../../node/slow-turns.js';
import {
  NodeSampler,
  leaderChangesBetween,
  leaderChangesIn,
  leaderChangesSeen,
  readNodes,
  type NodeMaxima,
} from './node-sampler.js';
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
import { DiskWatch, meanFsyncMs, walFsyncIn, type DiskWrites } from './disk-activity.js';
import { loopStallsBetween, type LoopStalls } from './loop-stalls.js';

export interface Measured {
  readonly result: LoadResult;
  readonly errors: number;
  /** Null when not known (a system without the counter). */
  readonly leaderChanges: number | null;
  /** What the disk under the data wrote during the phase (null: not known). */
  readonly disk?: DiskWrites | null;
  /** zabkv only: the nodes' mean WAL flush during the phase, ms. */
  readonly walFsyncMs?: number | null;
  /** zabkv only: the nodes' long handler turns and GC pauses during the phase. */
  readonly stalls?: LoopStalls;
}

export interface SnapSync {
  /** Restart of the wiped follower → its leader sees it synced at the leader's zxid. */
  readonly seconds: number;
  /** The writes to the two other nodes meanwhile. */
  readonly during: Measured;
}

export interface ScaleRun {
  readonly system: string;
  readonly data: DataSet;
  readonly preload: Preload;
  readonly writes: Measured;
  readonly reads: Measured;
  /** zabkv only: per node, the maxima over the whole run. */
  readonly nodes?: readonly NodeMaxima[];
  readonly restartToReadySec?: number;
  /** Leader changes the other nodes saw from the follower's kill until it was ready. */
  readonly restartLeaderChanges?: number;
  readonly snap?: SnapSync;
}

export interface ScaleSettings {
  readonly clients: number;
  /** Seconds of each write phase. */
  readonly durationSec: number;
  /** Seconds of each read phase. */
  readonly readDurationSec: number;
  readonly preloadWriters: number;
  /** The nodes' LOG_LEVEL (info shows elections and syncs in the node logs). */
  readonly logLevel: string;
  /** Start the nodes with --measure-turn-cpu: long turns say how long they ran. */
  readonly measureTurnCpu: boolean;
}

const NODES = [1, 2, 3] as const;
/**
 * The ports of a scale run's cluster: its nodes persist them in their lookup tables, so a data
 * set kept with `--keep` starts again only on these (bench:ab --data).
 */
export const SCALE_PORTS = { firstHttpPort: 33_001, firstPeerPort: 34_001 } as const;
/** A sync or restart slower than this is reported as not finished. */
const PATIENCE_MS = 600_000;

async function group(url: string): Promise<GroupStatus | undefined> {
  try {
    const response = await request(`${url}/cluster`, { headersTimeout: 2_000 });
    const status = (await response.body.json()) as FormedCluster;
    return status.formed ? status.groups[0] : undefined;
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: not after ${PATIENCE_MS} ms`);
    await sleep(100);
  }
}

/** A scale run's group of 3 nodes on `dir` (started again on the same data by later rounds). */
export function scaleCluster(dir: string, settings: ScaleSettings): LocalCluster {
  return new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: dir,
    ...SCALE_PORTS,
    env: {
      LOG_LEVEL: settings.logLevel,
      ...(settings.measureTurnCpu ? { ZABKV_MEASURE_TURN_CPU: '1' } : {}),
    },
  });
}

export async function runZabkvScale(
  dir: string,
  data: DataSet,
  settings: ScaleSettings,
): Promise<ScaleRun> {
  const cluster = scaleCluster(dir, settings);
  const urls = NODES.map((n) => httpUrl(cluster.options, n));
  cluster.start();
  const sampler = new NodeSampler(urls);
  try {
    await cluster.ready(60_000);
    const measure = async (
      workload: Workload,
      nodes: readonly string[],
      stop?: AbortSignal,
      restarted?: number,
    ): Promise<Measured> => {
      // A phase that ends on an event runs until then (within the patience).
      const first = await readNodes(urls);
      const before = leaderChangesIn(first);
      const fsyncBefore = walFsyncIn(first);
      sampler.openWindow();
      const target = new ZabkvTarget(nodes, settings.clients);
      const disk = new DiskWatch(dir);
      try {
        const result = await runPhase({
          target,
          data,
          workload,
          clients: settings.clients,
          durationSec: stop === undefined ? phaseSeconds(workload, settings) : PATIENCE_MS / 1000,
          ...(stop === undefined ? {} : { stop }),
        });
        const written = disk.writes();
        // A turn's share without GC is observed 50 ms after it (node/slow-turns.ts).
        await sleep(GC_REPORT_WAIT_MS * 2);
        const last = await readNodes(urls);
        // A node restarted during the phase counts its own rejoining, and its flushes from zero
        // again; the others see the elections.
        if (restarted !== undefined) {
          before[restarted - 1] = null;
          fsyncBefore[restarted - 1] = null;
        }
        return {
          result,
          errors: errorCount(result),
          leaderChanges: leaderChangesBetween(before, leaderChangesIn(last)),
          disk: written,
          walFsyncMs: meanFsyncMs(fsyncBefore, walFsyncIn(last)),
          stalls: loopStallsBetween(first, last, sampler.windowLagMaxMs(last), restarted),
        };
      } finally {
        await target.close();
      }
    };

    const loader = new ZabkvTarget(urls, settings.preloadWriters);
    const loaded = await preload(loader, data.keys, data.valueSize, settings.preloadWriters, (n) =>
      console.log(`  preload: ${n.toLocaleString('en-US')} / ${data.keys.toLocaleString('en-US')}`),
    ).finally(() => loader.close());
    console.log(`  preload: ${loaded.seconds.toFixed(1)} s, ${loaded.errors} retried`);
    const writes = await measure(WRITES, urls);
    const reads = await measure(READS, urls);

    // The follower to restart and then wipe: never node 1, which new nodes bootstrap from.
    const leader = (await until(
      'a leader',
      async () => (await group(urls[0]!))?.leader ?? undefined,
    )) as number;
    const victim = leader === 3 ? 2 : 3;
    const victimUrl = urls[victim - 1]!;
    const others = urls.filter((_, i) => i !== victim - 1);

    const beforeRestart = await leaderChangesSeen(urls);
    beforeRestart[victim - 1] = null;
    await cluster.kill(victim);
    const restarted = performance.now();
    cluster.startNode(victim);
    const probe = new ZabkvClient({ nodes: [victimUrl], attempts: 1, connections: 1 });
    await until('restarted follower ready', async () => {
      if (!(await isReady(victimUrl))) return undefined;
      return probe.get('key-0', 'linearizable').then(
        () => true,
        () => undefined,
      );
    }).finally(() => probe.close());
    const restartToReadySec = (performance.now() - restarted) / 1000;
    const restartLeaderChanges = leaderChangesBetween(beforeRestart, await leaderChangesSeen(urls));
    console.log(
      `  restart to ready: ${restartToReadySec.toFixed(2)} s (node ${victim}), ` +
        `${restartLeaderChanges} leader changes`,
    );

    // SNAP sync: the follower's group log and its lmdb state go; it rejoins empty (its lookup
    // table stays, as the experiment runner's `wipe` keeps it).
    const stop = new AbortController();
    const during = measure(WRITES, others, stop.signal, victim);
    await sleep(1_000); // the load's warmup, so that its numbers start at the kill
    await cluster.kill(victim);
    // Moved aside, deleted once the load stops: unlinking the victim's files (gigabytes at 5M
    // keys) would stall the other nodes' log writes on this shared disk, not the SNAP's doing.
    const wipedAside = join(dir, 'wiped');
    wipeGroupData(join(dir, `node-${victim}`), 0, wipedAside);
    const wiped = performance.now();
    cluster.startNode(victim);
    const leaderUrl = urls[leader - 1]!;
    const goal = await until('leader zxid', async () => (await group(leaderUrl))?.committedZxid);
    let seconds = Infinity;
    try {
      // Both sides: the leader's view of a follower can be stale for a moment after the kill.
      await until('wiped follower synced', async () => {
        const own = await group(victimUrl);
        const view = (await group(leaderUrl))?.followers?.find((f) => f.node === victim);
        const synced =
          own?.role === 'following' &&
          (own.appliedZxid ?? 0) >= goal &&
          view?.synced === true &&
          view.ackedZxid >= goal;
        return synced ? true : undefined;
      });
      seconds = (performance.now() - wiped) / 1000;
    } finally {
      stop.abort();
    }
    const snap = { seconds, during: await during };
    rmSync(wipedAside, { recursive: true, force: true });
    console.log(`  SNAP sync of a wiped follower: ${seconds.toFixed(2)} s`);
    return {
      system: 'zabkv',
      data,
      preload: loaded,
      writes,
      reads,
      nodes: sampler.nodes.map((n) => ({ ...n })),
      restartToReadySec,
      restartLeaderChanges,
      snap,
    };
  } finally {
    sampler.stop();
    await cluster.stop();
  }
}
