import { freePorts } from '../client/free-ports.js';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { KeyRange } from '../bootstrap/lookup-table.js';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import { ZabkvClient } from '../client/zabkv-client.js';
import type { UiState } from '../frontend/ui-state.js';
import { wipeGroupData } from '../node/group-data.js';
import { checkOperations } from '../sim/linearizability/checker.js';
import { keysOf, kvModel } from '../sim/linearizability/kv-model.js';
import { RealWorkload } from './real-workload.js';
import { summarize, type ActionRecord, type RunResult } from './run-result.js';
import { describeAction, seconds, type Action, type Scenario } from './scenario.js';

export interface RealRunOptions {
  /** Where the nodes keep their data and logs (emptied first). */
  readonly dataDir: string;
  readonly seed: number;
  /** The CLI the nodes run (default: the one of this package). */
  readonly cli?: string;
  readonly log?: (line: string) => void;
  /** Seconds of load before the measured workload (default 3): connections, JIT, first fsyncs. */
  readonly warmupSec?: number;
}

/**
 * Runs a scenario on real processes: a LocalCluster started with `--fault-injection`, the
 * workload through ZabkvClient, and the timeline's actions as signals (SIGKILL, SIGSTOP,
 * SIGCONT), restarts, wiped data directories and `/admin/faults` rules. At the end every fault
 * is healed, every node brought back, every key read, and the history checked.
 */
export async function runReal(scenario: Scenario, options: RealRunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const { nodes, replication, storage } = scenario.cluster;
  rmSync(options.dataDir, { recursive: true, force: true });
  const first = await freePorts(nodes * 2);
  const cluster = new LocalCluster({
    nodes,
    replication,
    dataDir: options.dataDir,
    firstHttpPort: first,
    firstPeerPort: first + nodes,
    ...(options.cli === undefined ? {} : { cli: options.cli }),
    env: {
      LOG_LEVEL: 'warn',
      ZABKV_FAULT_INJECTION: '1',
      ...(storage === undefined ? {} : { ZABKV_STORAGE: storage }),
    },
  });
  // Where wiped data goes until the end (wipeGroupData: an unlink of gigabytes during the run
  // would stall the other nodes' log writes on this disk, which the scenario did not ask for).
  const wipedAside = join(options.dataDir, 'wiped');
  const urls = Array.from({ length: nodes }, (_, i) => httpUrl(cluster.options, i + 1));
  const url = (node: number) => urls[node - 1]!;
  const client = new ZabkvClient({ nodes: urls, attempts: 3, timeoutMs: 5_000, connections: 8 });
  // Stopped by a signal: the nodes go down with the runner instead of living on.
  const onSignal = () =>
    void cluster.stop().then(() => {
      rmSync(options.dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  cluster.start();
  try {
    await cluster.ready(60_000);
    log(`${nodes} nodes ready`);
    const state = await uiState(urls);
    const ranges: KeyRange[] = [...(state?.ranges ?? [])];
    const groups = (state?.groups ?? []).map((g) => g.id);
    const warmupMs = (options.warmupSec ?? 3) * 1000;
    const loadAtStart = loadavg()[0]!;
    const t0 = performance.now() + warmupMs;
    const durationMs = seconds(scenario.workload.duration) * 1000;
    const workload = new RealWorkload(client, ranges, t0, options.seed);
    const elapsed = () => performance.now() - t0;
    const shape = {
      clients: scenario.workload.clients,
      readRatio: scenario.workload.readRatio,
      keys: scenario.workload.keys,
      distribution: scenario.workload.distribution ?? 'uniform',
      valueSize: scenario.workload.valueSize ?? 100,
      ...(scenario.workload.rate === undefined ? {} : { rate: scenario.workload.rate }),
    };
    const running: Promise<void>[] = [workload.run(shape, () => elapsed() >= durationMs)];
    const actions: ActionRecord[] = [];
    const faults = new Faults(url);
    const stopped = new Set<number>();
    const paused = new Set<number>();
    const leaderOf = async (group: number) =>
      (
        await uiState(urls.filter((_, i) => !stopped.has(i + 1) && !paused.has(i + 1)))
      )?.groups.find((g) => g.id === group)?.leader ?? null;
    const target = async (a: { node?: number; leaderOf?: number; followerOf?: number }) => {
      if (a.node !== undefined) return a.node;
      if (a.leaderOf !== undefined) return leaderOf(a.leaderOf);
      const s = await uiState(urls);
      const group = s?.groups.find((g) => g.id === a.followerOf);
      return group?.members.find((m) => m.up && m.id !== group.leader)?.id ?? null;
    };
    const others = (node: number) => urls.map((_, i) => i + 1).filter((n) => n !== node);
    const perform = async (a: Action): Promise<string | undefined> => {
      switch (a.action) {
        case 'kill':
        case 'wipe': {
          const node = await target(a);
          if (node === null) return 'no such node now';
          await killed(cluster, node);
          if (a.action === 'wipe') {
            // Killed first (its lock is free once it has exited): the node keeps its lookup
            // table and rejoins its group, which re-syncs it (SNAP).
            const dir = join(options.dataDir, `node-${node}`);
            for (const group of groups) wipeGroupData(dir, group, wipedAside);
            cluster.startNode(node);
          } else stopped.add(node);
          return undefined;
        }
        case 'restart':
        case 'restart-all': {
          const list = a.action === 'restart' && a.node !== undefined ? [a.node] : [...stopped];
          for (const node of list) {
            if (cluster.process(node) === undefined) cluster.startNode(node);
            stopped.delete(node);
          }
          return undefined;
        }
        case 'kill-all':
          await Promise.all(urls.map((_, i) => killed(cluster, i + 1)));
          for (let n = 1; n <= nodes; n++) stopped.add(n);
          return undefined;
        case 'pause': {
          const node = await target(a);
          if (node === null) return 'no such node now';
          cluster.process(node)?.kill('SIGSTOP');
          paused.add(node);
          return undefined;
        }
        case 'resume': {
          const list = a.node !== undefined ? [a.node] : [...paused];
          for (const node of list) cluster.process(node)?.kill('SIGCONT');
          for (const node of list) paused.delete(node);
          return undefined;
        }
        case 'isolate': {
          const node = await target(a);
          if (node === null) return 'no such node now';
          const cuts = others(node).flatMap((o): [number, number][] => [
            [node, o],
            [o, node],
          ]);
          await faults.add(cuts);
          if (a.for !== undefined)
            setTimeout(() => void faults.remove(cuts), seconds(a.for) * 1000);
          return undefined;
        }
        case 'cut': {
          const cuts: [number, number][] = [[a.from, a.to]];
          await faults.add(cuts);
          if (a.for !== undefined)
            setTimeout(() => void faults.remove(cuts), seconds(a.for) * 1000);
          return undefined;
        }
        case 'heal':
          await faults.healAll();
          return undefined;
        case 'load': {
          const until = elapsed() + seconds(a.for) * 1000;
          running.push(
            workload.run(
              { ...shape, clients: a.clients },
              () => elapsed() >= Math.min(until, durationMs),
            ),
          );
          return undefined;
        }
      }
    };
    if (warmupMs > 0) log(`warming up for ${warmupMs / 1000} s`);
    for (const a of scenario.timeline) {
      const wait = seconds(a.at) * 1000 - elapsed();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const atMs = elapsed();
      const failed = await perform(a).catch((error: Error) => error.message);
      actions.push({ atMs, text: describeAction(a), ...(failed === undefined ? {} : { failed }) });
      log(
        `${(atMs / 1000).toFixed(1)} s: ${describeAction(a)}${failed === undefined ? '' : ` (failed: ${failed})`}`,
      );
    }
    const wait = durationMs - elapsed();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const loadAtEnd = loadavg()[0]!;
    await Promise.all(running);
    log('workload done: healing, restarting, reading every key');
    await faults.healAll();
    for (const node of paused) cluster.process(node)?.kill('SIGCONT');
    for (let n = 1; n <= nodes; n++) if (cluster.process(n) === undefined) cluster.startNode(n);
    await cluster.ready(60_000);
    const keys = [...new Set(workload.history.flatMap((op) => keysOf(op.input)))];
    const readers = Array.from({ length: 32 }, async (_, i) => {
      const reader = 1_000_000 + i;
      for (let k = i; k < keys.length; k += 32) {
        await workload.operate(reader, { op: 'get', key: keys[k]! });
      }
    });
    await Promise.all(readers);
    const inWindow = workload.ops.filter((op) => op.start >= 0 && op.start < durationMs);
    const verdict = checkOperations(kvModel, workload.history, { maxSteps: 5_000_000 });
    return {
      mode: 'real',
      seed: options.seed,
      durationSec: durationMs / 1000,
      actions,
      groups,
      machine: { cpus: cpus().length, load: [loadAtStart, loadAtEnd] },
      ...summarize(inWindow, groups, durationMs),
      linearizability: { verdict, operations: workload.history.length },
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.close();
    await cluster.stop();
    rmSync(wipedAside, { recursive: true, force: true });
  }
}

/** SIGKILL, resolved once the process is gone. */
async function killed(cluster: LocalCluster, node: number): Promise<void> {
  const child = cluster.process(node);
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** `/ui/state` from the first of `urls` that answers. */
async function uiState(urls: readonly string[]): Promise<UiState | null> {
  for (const url of urls) {
    try {
      const response = await request(`${url}/ui/state`, {
        headersTimeout: 3_000,
        bodyTimeout: 3_000,
      });
      if (response.statusCode === 200) return (await response.body.json()) as UiState;
      await response.body.dump();
    } catch {
      // the next node
    }
  }
  return null;
}

/** The cut links (from → to), kept as each node's `/admin/faults` rules. */
class Faults {
  private readonly cuts = new Set<string>();

  constructor(private readonly url: (node: number) => string) {}

  async add(cuts: readonly [number, number][]): Promise<void> {
    for (const [from, to] of cuts) this.cuts.add(`${from}>${to}`);
    await this.push(new Set(cuts.flat()));
  }

  async remove(cuts: readonly [number, number][]): Promise<void> {
    for (const [from, to] of cuts) this.cuts.delete(`${from}>${to}`);
    await this.push(new Set(cuts.flat()));
  }

  async healAll(): Promise<void> {
    const nodes = new Set([...this.cuts].flatMap((c) => c.split('>').map(Number)));
    this.cuts.clear();
    await this.push(nodes);
  }

  /** Sends their rules to `nodes`: a node drops what it would send on a cut from it, and what arrives on one to it. */
  private async push(nodes: ReadonlySet<number>): Promise<void> {
    const links = [...this.cuts].map((c) => c.split('>').map(Number) as [number, number]);
    await Promise.all(
      [...nodes].map(async (node) => {
        const body = JSON.stringify({
          dropTo: links.filter(([from]) => from === node).map(([, to]) => to),
          dropFrom: links.filter(([, to]) => to === node).map(([from]) => from),
        });
        try {
          const response = await request(`${this.url(node)}/admin/faults`, {
            method: 'PUT',
            body,
            headersTimeout: 3_000,
          });
          await response.body.dump();
        } catch {
          // a node that is down has no links to cut; it starts with none
        }
      }),
    );
  }
}
