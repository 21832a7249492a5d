// `npm run bench:ab -- --base <rev>`: the working tree's build against another commit's, on
// the same machine in the same run, taking turns (this 2-core machine is shared and drifts by
// tens of per cent within minutes: only ratios measured side by side mean anything).
//   npm run bench:ab -- --base 62cc226 [--head <rev>] [--clients 1,16,64] [--duration 5]
//                       [--rounds 3] [--read-ratio 0] [--warmup 1]
//                       [--keys 10000] [--data <a kept bench:scale data set>]
//                       [--base-flags '<node flags>'] [--head-flags '<node flags>']
// Each side is built in a temporary git worktree (the head too, when --head is given; else the
// working tree's dist/), and starts its 3-node cluster with its own LocalCluster and node
// command, so commits from before the layout change work too. The load is always this tree's
// generator. Prints a table of medians and the head/base ratio; writes nothing.
// With --data (e.g. /tmp/zabkv-scale-x/zabkv-1000000-100, kept by `bench:scale --keep`), each
// run starts on a fresh copy of that data set, so a change is measured at a million keys
// without a preload per run; --keys must then say how many keys it holds.
// Besides ops/s and CPU, what the disk under the data wrote per operation and the nodes' mean
// WAL flush: a storage change shows there first (and the three nodes share this one disk).
// --base-flags/--head-flags give one side's node processes runtime flags (e.g.
// `--head-flags '--max-semi-space-size=64'` with `--base HEAD`: a V8 setting measured alone).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { fraction, positive, positiveInteger, positiveIntegers } from './bench-flags.js';
import { runLoad, type LoadResult } from '../loadgen/load-generator.js';
import { ZabkvTarget } from '../loadgen/load-target.js';
import { cpuUsedBetween, processCpu } from './process-cpu.js';
import { machineDescription, median } from './report.js';
import { DiskWatch, meanFsyncMs, walFsyncIn } from './scale/disk-activity.js';
import { NodeSampler, readNodes } from './scale/node-sampler.js';
import { SCALE_PORTS } from './scale/zabkv-scale.js';

/** What this tool needs of any commit's client/local-cluster.js. */
interface ClusterLike {
  start(): void;
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  /** Each node's child process (not in every commit's LocalCluster). */
  process?(node: number): { readonly pid?: number | undefined } | undefined;
}

/** One measurement: the load's result, and per operation the nodes' CPU and the disk's writes. */
interface Measured {
  readonly load: LoadResult;
  /** µs, null when not known (no /proc). */
  readonly cpuUsPerOp: number | null;
  /** KB written to the disk under the data, null when not known. */
  readonly diskKbPerOp: number | null;
  readonly walFsyncMs: number | null;
  /** The nodes' longest GC pause and event-loop delay during it, ms (0: not reported). */
  readonly gcPauseMaxMs: number;
  readonly loopLagMaxMs: number;
}
interface ClusterModule {
  LocalCluster: new (options: Record<string, unknown>) => ClusterLike;
  httpUrl: (options: { firstHttpPort: number }, node: number) => string;
}

interface Side {
  readonly label: string;
  /** The dist/ folder of its build. */
  readonly dist: string;
  /** Its node command, relative to dist/ (cli/cli.js since the layout change). */
  readonly cli: string;
  /** Node's own flags for its node processes. */
  readonly flags: readonly string[];
}

const options = new Command()
  .requiredOption('--base <rev>', 'the commit to compare against')
  .option('--head <rev>', "the commit to measure (default: the working tree's build)")
  .option('--clients <list>', 'closed-loop clients, comma-separated', positiveIntegers, [1, 16, 64])
  .option('--duration <s>', 'seconds of each measurement', positive, 5)
  .option('--rounds <n>', 'measurements per side and client count', positiveInteger, 3)
  .option('--read-ratio <f>', 'fraction of linearizable reads', fraction, 0)
  // V8 still compiles for the first 10-15 s of load: a longer warmup measures steady state.
  .option('--warmup <s>', 'seconds of load before each measurement', positive, 1)
  .option('--keys <n>', 'keys the load spreads over', positiveInteger, 10_000)
  .option('--data <dir>', 'a data set kept by bench:scale --keep, copied for each run')
  .option('--base-flags <flags>', "node's flags for the base's node processes, space-separated")
  .option('--head-flags <flags>', "node's flags for the head's node processes, space-separated")
  .parse()
  .opts<{
    base: string;
    head?: string;
    clients: number[];
    duration: number;
    rounds: number;
    readRatio: number;
    warmup: number;
    keys: number;
    data?: string;
    baseFlags?: string;
    headFlags?: string;
  }>();

const flagList = (text: string | undefined): string[] =>
  text === undefined ? [] : text.split(/\s+/).filter((flag) => flag !== '');

const git = (...args: string[]): string =>
  execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

const scratch = mkdtempSync(join(tmpdir(), 'zabkv-ab-'));
const worktrees: string[] = [];

/** Builds `rev` in a worktree of its own (node_modules shared with this tree). */
function buildCommit(rev: string, flags: readonly string[]): Side {
  const commit = git('rev-parse', '--short', rev);
  const dir = join(scratch, commit);
  // The same commit on both sides (with other flags) is built once.
  if (worktrees.includes(dir)) return sideOf(commit, join(dir, 'dist'), flags);
  git('worktree', 'add', '--detach', dir, commit);
  worktrees.push(dir);
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  console.log(`building ${commit} …`);
  execFileSync(
    process.execPath,
    [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  return sideOf(commit, join(dir, 'dist'), flags);
}

function sideOf(label: string, dist: string, flags: readonly string[]): Side {
  // The node command moved from client/cli.js to cli/cli.js with the layout change.
  const cli = existsSync(join(dist, 'cli/cli.js')) ? 'cli/cli.js' : 'client/cli.js';
  const named = flags.length === 0 ? label : `${label} ${flags.join(' ')}`;
  // LocalCluster took nodeFlags from 70d04da on: an older one would drop them without a word.
  if (
    flags.length > 0 &&
    !readFileSync(join(dist, 'client/local-cluster.js'), 'utf8').includes('nodeFlags')
  ) {
    throw new Error(`${label}: its LocalCluster takes no node flags (${flags.join(' ')})`);
  }
  return { label: named, dist, cli, flags };
}

/** One cluster of `side`, measured at every client count. */
async function measure(side: Side): Promise<Map<number, Measured>> {
  const module = (await import(
    pathToFileURL(join(side.dist, 'client/local-cluster.js')).href
  )) as ClusterModule;
  const dataDir = mkdtempSync(join(scratch, 'data-'));
  if (options.data !== undefined) cpSync(options.data, dataDir, { recursive: true });
  const clusterOptions = {
    nodes: 3,
    replication: 3,
    dataDir,
    ...(options.data === undefined
      ? { firstHttpPort: 29_101, firstPeerPort: 29_201 }
      : SCALE_PORTS),
    cli: join(side.dist, side.cli),
    nodeFlags: side.flags,
    env: { LOG_LEVEL: 'warn' },
  };
  const cluster = new module.LocalCluster(clusterOptions);
  cluster.start();
  const results = new Map<number, Measured>();
  const nodesCpu = () => [1, 2, 3].map((node) => processCpu(cluster.process?.(node)?.pid ?? -1));
  try {
    await cluster.ready(60_000);
    const urls = [1, 2, 3].map((node) => module.httpUrl(clusterOptions, node));
    for (const clients of options.clients) {
      const target = new ZabkvTarget(urls, clients);
      try {
        const phase = (durationSec: number, seed: number) =>
          runLoad({
            target,
            clients,
            durationSec,
            readRatio: options.readRatio,
            consistency: 'linearizable',
            keySpace: options.keys,
            keyDistribution: 'uniform',
            valueSize: 100,
            warmupSec: 0,
            seed,
          });
        // The warmup is a load of its own, so the CPU read after it is the measurement's alone.
        await phase(options.warmup, clients + 1_000);
        const fsyncBefore = walFsyncIn(await readNodes(urls));
        const diskWatch = new DiskWatch(dataDir);
        const before = nodesCpu();
        const sampler = new NodeSampler(urls);
        const load = await phase(options.duration, clients).finally(() => sampler.stop());
        const used = cpuUsedBetween(before, nodesCpu());
        const disk = diskWatch.writes();
        const ops = load.throughput * options.duration;
        const cpuUsPerOp =
          used === null || ops === 0 ? null : (1000 * (used.mainMs + used.otherMs)) / ops;
        const diskKbPerOp =
          disk === null || load.throughput === 0
            ? null
            : (1000 * disk.megabytesPerSec) / load.throughput;
        const walFsyncMs = meanFsyncMs(fsyncBefore, walFsyncIn(await readNodes(urls)));
        results.set(clients, {
          load,
          cpuUsPerOp,
          diskKbPerOp,
          walFsyncMs,
          gcPauseMaxMs: 1000 * Math.max(...sampler.nodes.map((n) => n.gcPauseMaxSec)),
          loopLagMaxMs: 1000 * Math.max(...sampler.nodes.map((n) => n.eventLoopLagMaxSec)),
        });
      } finally {
        await target.close();
      }
    }
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

try {
  const base = buildCommit(options.base, flagList(options.baseFlags));
  const headFlags = flagList(options.headFlags);
  const head =
    options.head === undefined
      ? sideOf(`working tree (${git('rev-parse', '--short', 'HEAD')})`, resolve('dist'), headFlags)
      : buildCommit(options.head, headFlags);
  const sides = [base, head];
  if (base.label === head.label) throw new Error(`base and head are both ${base.label}`);
  const runs = new Map<string, Map<number, Measured>[]>(sides.map((s) => [s.label, []]));
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order too, so that a drift within a round touches both sides alike.
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const measured = await measure(side);
      runs.get(side.label)!.push(measured);
      const line = [...measured].map(
        ([c, { load, cpuUsPerOp, diskKbPerOp, walFsyncMs, gcPauseMaxMs, loopLagMaxMs }]) =>
          `c=${c} ${Math.round(load.throughput)}/s p50 ${load.latency.p50.toFixed(2)} ms` +
          ` p99.9 ${load.latency.p999.toFixed(1)} ms GC max ${gcPauseMaxMs.toFixed(0)} ms` +
          ` loop delay max ${loopLagMaxMs.toFixed(0)} ms` +
          (cpuUsPerOp === null ? '' : ` cpu/op ${Math.round(cpuUsPerOp)} µs`) +
          (diskKbPerOp === null ? '' : ` disk/op ${diskKbPerOp.toFixed(1)} KB`) +
          (walFsyncMs === null ? '' : ` WAL flush ${walFsyncMs.toFixed(2)} ms`),
      );
      console.log(`round ${round + 1} ${side.label}: ${line.join(', ')}`);
    }
  }
  const measured = (side: Side, clients: number) =>
    runs.get(side.label)!.map((m) => m.get(clients)!);
  const medianOf = (side: Side, clients: number, pick: (r: Measured) => number) =>
    median(measured(side, clients).map(pick));
  /** The median of a figure some runs may not know (/proc), or '–' when one did not. */
  const medianKnown = (
    side: Side,
    clients: number,
    figure: 'cpuUsPerOp' | 'diskKbPerOp' | 'walFsyncMs',
    format: (x: number) => string,
  ): string => {
    const known = measured(side, clients).map((r) => r[figure]);
    return known.includes(null) ? '–' : format(median(known as number[]));
  };
  const cpuOf = (side: Side, clients: number): string =>
    medianKnown(side, clients, 'cpuUsPerOp', (x) => Math.round(x).toLocaleString('en'));
  const diskOf = (side: Side, clients: number): string =>
    medianKnown(side, clients, 'diskKbPerOp', (x) => x.toFixed(1));
  const flushOf = (side: Side, clients: number): string =>
    medianKnown(side, clients, 'walFsyncMs', (x) => x.toFixed(2));
  console.log(`\n${machineDescription()}; ${options.rounds} rounds, medians`);
  console.log(
    '| clients | base ops/s | head ops/s | head / base | base p50 ms | head p50 ms | base p99.9 ms | head p99.9 ms | base GC max ms | head GC max ms | base CPU µs/op | head CPU µs/op | base disk KB/op | head disk KB/op | base WAL flush ms | head WAL flush ms |',
  );
  console.log(
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const msOf = (side: Side, clients: number, pick: (r: Measured) => number): string =>
    medianOf(side, clients, pick).toFixed(1);
  const p999 = (r: Measured) => r.load.latency.p999;
  const gc = (r: Measured) => r.gcPauseMaxMs;
  for (const clients of options.clients) {
    const [b, h] = [base, head].map((s) => medianOf(s, clients, (r) => r.load.throughput)) as [
      number,
      number,
    ];
    const [bp, hp] = [base, head].map((s) => medianOf(s, clients, (r) => r.load.latency.p50)) as [
      number,
      number,
    ];
    console.log(
      `| ${clients} | ${Math.round(b)} | ${Math.round(h)} | ${(h / b).toFixed(2)} | ${bp.toFixed(2)} | ${hp.toFixed(2)} ` +
        `| ${msOf(base, clients, p999)} | ${msOf(head, clients, p999)} | ${msOf(base, clients, gc)} | ${msOf(head, clients, gc)} | ${cpuOf(base, clients)} | ${cpuOf(head, clients)} ` +
        `| ${diskOf(base, clients)} | ${diskOf(head, clients)} | ${flushOf(base, clients)} | ${flushOf(head, clients)} |`,
    );
  }
  console.log(
    'CPU µs/op: the three nodes’ CPU time (all threads) per operation; it drifts far less than ops/s. ' +
      'Disk KB/op: what the disk under the data wrote (/proc/diskstats, the whole device) per operation. ' +
      'WAL flush: the mean of the nodes’ zabkv_wal_fsync_duration_seconds (– before that metric). ' +
      'GC max: the longest GC pause any node reported during the run (zabkv_gc_pause_max_seconds; 0 before that metric).',
  );
} finally {
  for (const dir of worktrees) git('worktree', 'remove', '--force', dir);
  rmSync(scratch, { recursive: true, force: true });
}
