// The protocol's own cost: a 3-replica ZAB group in one process under the simulator with zero
// network latency and zero fsync time, so every CPU cycle measured is protocol, kernel and
// state machine work. Reports committed operations per CPU-second (median of 3 seeds).
import type { NodeId } from '../components/network/node-id.js';
import type { KvOutcome } from '../kv/kv-operation.js';
import { ZabCluster } from '../sim/zab-cluster.js';
import { median, writeBenchmarkSection } from './report.js';

interface Result {
  readonly ops: number;
  readonly cpuSeconds: number;
  /** Flushes (fsyncs) of the leader's disk during the run. */
  readonly flushes: number;
}

function run(
  seed: number,
  clients: number,
  readRatio: number,
  validate: boolean,
  total: number,
): Result {
  const cluster = new ZabCluster({
    seed,
    size: 3,
    link: { minLatencyMs: 0, maxLatencyMs: 0, lossRate: 0 },
    flushMs: [0, 0],
    validateMessages: validate,
    // Production snapshot settings: the simulation's tiny ones would measure snapshots.
    replica: { snapshotEvery: 10_000, retainEntries: 5_000 },
  });
  const { sim } = cluster;
  sim.runUntil(
    () => cluster.leader() !== null && cluster.ids.every((id) => cluster.replica(id)!.serving),
    5_000,
  );
  const random = sim.random.fork('bench');
  let done = 0;
  let issued = 0;
  const issue = (node: NodeId, client: number): void => {
    if (issued >= total) return;
    issued++;
    const key = `k${random.int(0, 9_999)}`;
    const input = random.chance(readRatio)
      ? ({ op: 'get', key } as const)
      : ({ op: 'put', key, value: `v${issued}`.padEnd(100, '.') } as const);
    cluster.submit(node, client, input, (outcome: KvOutcome | undefined) => {
      if (outcome?.status === 200 || outcome?.status === 404) done++;
      sim.after(0, () => issue(node, client));
    });
  };
  const flushesBefore = cluster.disks.get(cluster.leader()!)!.stats.flushes;
  const before = process.cpuUsage();
  for (let c = 0; c < clients; c++) issue(cluster.ids[c % 3]!, cluster.newClientId());
  sim.runUntil(() => done >= total || (issued >= total && done >= total * 0.99), 600_000);
  const used = process.cpuUsage(before);
  return {
    ops: done,
    cpuSeconds: (used.user + used.system) / 1e6,
    flushes: cluster.disks.get(cluster.leader()!)!.stats.flushes - flushesBefore,
  };
}

const rows: string[] = [];
for (const [label, clients, readRatio, validate] of [
  ['writes, 64 clients', 64, 0, false],
  ['writes, 1 client', 1, 0, false],
  ['90 % linearizable reads, 64 clients', 64, 0.9, false],
  ['writes, 64 clients, every message encoded and validated', 64, 0, true],
] as const) {
  const total = clients === 1 ? 20_000 : 100_000;
  const results = [1, 2, 3].map((seed) => run(seed, clients, readRatio, validate, total));
  const perCpuSecond = median(results.map((r) => r.ops / r.cpuSeconds));
  const opsPerProposal = median(
    results.map((r) => (r.ops * (1 - readRatio)) / Math.max(1, r.flushes)),
  );
  rows.push(
    `| ${label} | ${Math.round(perCpuSecond).toLocaleString('en-US')} | ${opsPerProposal.toFixed(1)} |`,
  );
  console.log(rows.at(-1));
}

writeBenchmarkSection(
  'zab',
  'ZAB protocol cost (simulated 3-replica group, zero latency, zero fsync)',
  'npm run bench:zab',
  [
    'Clients spread over all three replicas (followers forward to the leader), 10,000 keys,',
    '100-byte values; the simulator runs the whole group in one process, so this is the CPU cost',
    'of ZAB, the kernel and the state machine per committed operation, plus the test harness',
    '(history recording, global invariant checks on every apply and ACK). Median of 3 seeds.',
    "Writes per fsync: client writes made durable by one flush of the leader's log (group commit",
    'and batching together).',
    'Messages are passed as objects unless the row says they are encoded and validated.',
    '',
    '| workload | committed ops per CPU-second | writes per leader fsync |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n'),
);
