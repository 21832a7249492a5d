// Failover, zabkv vs etcd vs ZooKeeper: steady writes to a 3-node cluster (fsync on), kill -9
// of the leader, then: how long until a write issued after the kill is acknowledged (the
// unavailability window), and how many acknowledged writes were lost (must be 0).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import {
  EtcdTarget,
  ZabkvTarget,
  ZooKeeperTarget,
  type LoadTarget,
} from '../loadgen/load-target.js';
import { throughputTimelineSvg } from '../loadgen/plots/index.js';
import { median, middle, writeBenchmarkSection, writePlot } from './report.js';
import { startEtcd, startZooKeeper } from './systems/external-clusters.js';

const WRITERS = 16;
const KEYS_PER_WRITER = 50;
/** How long after the kill a write is waited for, and the timeline kept. */
const WATCH_MS = 15_000;
/** Timeline buckets: acknowledged writes per 100 ms, from 1 s before the kill. */
const BUCKET_MS = 100;
const BEFORE_KILL_MS = 1_000;
/** The table's sparkline shows the first 4 s of the timeline (the kill at its 11th bar). */
const SPARKLINE_BUCKETS = 40;

interface System {
  readonly name: string;
  /** Index (0..2) of the current leader, if one is known right now. */
  findLeader(): Promise<number | undefined>;
  kill(index: number): void;
  /** A client of the nodes other than `dead`. */
  target(dead: number): Promise<LoadTarget>;
  stop(): Promise<void>;
}

interface Run {
  readonly windowMs: number;
  readonly acknowledged: number;
  readonly lost: number;
  /** Acknowledged writes per BUCKET_MS from BEFORE_KILL_MS before the kill to WATCH_MS after. */
  readonly timeline: number[];
}

/** Asks until the system names its leader (it may still be electing one). */
async function leaderOf(system: System): Promise<number> {
  for (;;) {
    const leader = await system.findLeader();
    if (leader !== undefined) return leader;
    await sleep(100);
  }
}

async function zabkvSystem(dir: string, run: number): Promise<System> {
  const cluster = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: dir,
    firstHttpPort: 23_001 + run * 10,
    firstPeerPort: 24_001 + run * 10,
    env: { LOG_LEVEL: 'warn' },
  });
  cluster.start();
  await cluster.ready(60_000);
  const urls = [1, 2, 3].map((n) => httpUrl(cluster.options, n));
  return {
    name: 'zabkv',
    async findLeader() {
      const response = await request(`${urls[0]}/cluster`);
      const status = (await response.body.json()) as { groups: { leader: number | null }[] };
      const leader = status.groups[0]?.leader;
      return typeof leader === 'number' ? leader - 1 : undefined;
    },
    kill: (index) => cluster.process(index + 1)!.kill('SIGKILL'),
    target: async (dead) =>
      new ZabkvTarget(
        urls.filter((_, i) => i !== dead),
        1,
      ),
    stop: () => cluster.stop(),
  };
}

async function etcdSystem(dir: string, run: number): Promise<System> {
  const etcd = await startEtcd(dir, 23_791 + run * 100);
  return {
    name: 'etcd',
    async findLeader() {
      for (const [index, endpoint] of etcd.endpoints.entries()) {
        try {
          const response = await request(`${endpoint}/v3/maintenance/status`, {
            method: 'POST',
            body: '{}',
          });
          const status = (await response.body.json()) as {
            header: { member_id: string };
            leader: string;
          };
          if (status.leader !== undefined && status.leader === status.header.member_id)
            return index;
        } catch {
          // not up yet
        }
      }
      return undefined;
    },
    kill: (index) => etcd.processes[index]!.kill('SIGKILL'),
    target: async (dead) =>
      new EtcdTarget(
        etcd.endpoints.filter((_, i) => i !== dead),
        1,
      ),
    stop: () => etcd.stop(),
  };
}

function fourLetters(hostPort: string, word: string): Promise<string> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(Number(port), host!, () => socket.write(word));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(''));
  });
}

async function zookeeperSystem(dir: string, run: number): Promise<System> {
  const zk = await startZooKeeper(dir, 21_811 + run * 1000);
  return {
    name: 'zookeeper',
    async findLeader() {
      for (const [index, endpoint] of zk.endpoints.entries()) {
        if ((await fourLetters(endpoint, 'srvr')).includes('Mode: leader')) return index;
      }
      return undefined;
    },
    kill: (index) => zk.processes[index]!.kill('SIGKILL'),
    target: (dead) =>
      ZooKeeperTarget.connect(
        zk.endpoints.filter((_, i) => i !== dead),
        1,
        WRITERS * KEYS_PER_WRITER,
      ),
    stop: () => zk.stop(),
  };
}

async function once(system: System): Promise<Run> {
  const dead = await leaderOf(system);
  const targets = await Promise.all(Array.from({ length: WRITERS }, () => system.target(dead)));
  const lastAcked = new Map<string, number>();
  const acks: number[] = [];
  let killAt = Infinity;
  let firstAfterKill = Infinity;
  let running = true;
  const writer = async (id: number) => {
    const target = targets[id]!;
    for (let seq = 0; running; seq++) {
      const key = `key-${id * KEYS_PER_WRITER + (seq % KEYS_PER_WRITER)}`;
      const issued = performance.now();
      try {
        await target.put(key, Buffer.from(`w${id}-${seq}`));
        const now = performance.now();
        acks.push(now);
        lastAcked.set(key, seq);
        if (issued > killAt && now < firstAfterKill) firstAfterKill = now;
      } catch {
        await sleep(10);
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, i) => writer(i));
  await sleep(2_000);
  killAt = performance.now();
  system.kill(dead);
  while (performance.now() - killAt < WATCH_MS) await sleep(50);
  running = false;
  await Promise.all(writers);
  // Each writer writes its own keys one at a time, so a key's final value must be its last
  // acknowledged write or a later one (whose answer was lost).
  let lost = 0;
  for (const [key, seq] of lastAcked) {
    const value = (await targets[0]!.get(key, 'linearizable'))?.toString() ?? '';
    if (Number(/-(\d+)$/.exec(value)?.[1] ?? -1) < seq) lost++;
  }
  await Promise.all(targets.map((t) => t.close()));
  const timeline = new Array<number>((BEFORE_KILL_MS + WATCH_MS) / BUCKET_MS).fill(0);
  for (const at of acks) {
    const bucket = Math.floor((at - killAt + BEFORE_KILL_MS) / BUCKET_MS);
    if (bucket >= 0 && bucket < timeline.length) timeline[bucket]!++;
  }
  return { windowMs: firstAfterKill - killAt, acknowledged: lastAcked.size, lost, timeline };
}

const systems = [zabkvSystem, etcdSystem, zookeeperSystem];
const results = new Map<string, Run[]>();
for (let run = 0; run < 3; run++) {
  for (const start of systems) {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-failover-'));
    const system = await start(dir, run);
    try {
      const result = await once(system);
      results.set(system.name, [...(results.get(system.name) ?? []), result]);
      console.log(
        `${system.name} run ${run + 1}: window ${result.windowMs.toFixed(0)} ms, lost ${result.lost}`,
      );
    } finally {
      await system.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// The run with the median window of each system, in the order zabkv, etcd, ZooKeeper (the
// order they ran in), which the table's sparkline and the plot both show.
const middles = [...results].map(([name, runs]) => ({
  name,
  runs,
  middle: middle(runs, (r) => r.windowMs),
}));
const bars = ' ▁▂▃▄▅▆▇█';
const lines: string[] = [];
for (const { name, runs, middle: run } of middles) {
  const shown = run.timeline.slice(0, SPARKLINE_BUCKETS);
  const peak = Math.max(...shown, 1);
  const sparkline = shown.map((n) => bars[Math.round((n / peak) * 8)]).join('');
  lines.push(
    `| ${name} | ${median(runs.map((r) => r.windowMs)).toFixed(0)} | ${runs.map((r) => r.windowMs.toFixed(0)).join(', ')} | ${runs.reduce((n, r) => n + r.lost, 0)} | \`${sparkline}\` |`,
  );
}
const plot = await writePlot(
  'failover.svg',
  'Acknowledged writes around the kill',
  await failoverSvg(),
);
writeBenchmarkSection(
  'failover',
  'Failover: kill -9 of the leader under steady writes',
  'npm run bench:failover',
  [
    'Each system a 3-node cluster on loopback with default settings (fsync on; zabkv tick 100 ms,',
    'syncLimit 5; etcd election timeout 1 s; ZooKeeper tickTime 2 s). 16 closed-loop writers, each on',
    'its own 50 keys, talking to the two nodes that survive. Window = kill → the first acknowledged',
    'write issued after the kill (watched for 15 s). Lost = keys whose final value is older than their last',
    'acknowledged write. Three runs per system, systems interleaved. Timeline: acknowledged writes',
    'per 100 ms from 1 s before the kill (the kill is at the 11th bar), median run.',
    '',
    '| system | median window (ms) | runs (ms) | lost | timeline |',
    '| --- | --- | --- | --- | --- |',
    ...lines,
    '',
    'The same median runs as a plot: acknowledged writes/s in 100 ms buckets, the kill at t = 0;',
    "shaded, each system's window (the shades overlap from the kill, darkest while all are down).",
    '',
    plot,
  ].join('\n'),
);

/**
 * One chart for all three systems, so their recoveries compare on one time axis. It runs
 * 1 s past the longest window shown (at least 3 s after the kill), not the whole 15 s watch,
 * which would squeeze the interesting part into a sliver.
 */
function failoverSvg(): Promise<string> {
  const windows = middles.map((m) => m.middle.windowMs);
  const longest = Math.max(...windows);
  const afterMs = Number.isFinite(longest)
    ? Math.min(WATCH_MS, Math.max(3_000, Math.ceil((longest + 1_000) / 1_000) * 1_000))
    : WATCH_MS;
  return throughputTimelineSvg(
    middles.map(({ name, middle: run }) => ({
      name,
      timeline: run.timeline.slice(0, (BEFORE_KILL_MS + afterMs) / BUCKET_MS),
    })),
    {
      title: 'kill -9 of the leader: acknowledged writes, median run of each system',
      bucketMs: BUCKET_MS,
      startMs: -BEFORE_KILL_MS,
      xTitle: 'time since the kill (s)',
      // One shade per system; only the first carries the label, the rules all fall at t = 0.
      // A system that never recovered (window Infinity) is shaded to the end of the chart.
      markers: windows.map((windowMs, i) => ({
        atMs: 0,
        label: i === 0 ? 'kill -9' : '',
        untilMs: Math.min(windowMs, afterMs),
      })),
    },
  );
}
