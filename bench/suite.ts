// The side-by-side benchmarks (issue 5, item 5): zabkv, etcd and ZooKeeper on this machine in
// one run, the systems interleaved, each a 3-node cluster with fsync on. Writes BENCHMARKS.md.
//   npm run bench:suite -- [--duration 5] [--repeats 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import { runLoad, type LoadResult } from '../client/bench/load-generator.js';
import {
  EtcdTarget,
  ZabkvTarget,
  ZooKeeperTarget,
  type LoadTarget,
} from '../client/bench/load-target.js';
import { median, writeBenchmarkSection } from './report.js';
import { startEtcd, startZooKeeper } from './systems/external-clusters.js';

const options = new Command()
  .option('--duration <s>', 'seconds per measurement', '5')
  .option('--repeats <n>', 'measurements per cell (the median is reported)', '3')
  .parse()
  .opts<{ duration: string; repeats: string }>();
const duration = Number(options.duration);
const repeats = Number(options.repeats);
const KEYS = 10_000;

interface Cell {
  system: string;
  workload: string;
  clients: number;
  results: LoadResult[];
}

async function measure(
  target: LoadTarget,
  clients: number,
  readRatio: number,
  consistency: 'linearizable' | 'stale',
): Promise<LoadResult> {
  return runLoad({
    target,
    clients,
    durationSec: duration,
    readRatio,
    consistency,
    keySpace: KEYS,
    keyDistribution: 'uniform',
    valueSize: 100,
    warmupSec: 1,
    seed: clients,
  });
}

const root = mkdtempSync(join(tmpdir(), 'zabkv-suite-'));
const zabkv = new LocalCluster({
  nodes: 3,
  replication: 3,
  dataDir: join(root, 'zabkv'),
  firstHttpPort: 31_001,
  firstPeerPort: 32_001,
  env: { LOG_LEVEL: 'warn' },
});
zabkv.start();
const [etcd, zookeeper] = await Promise.all([
  startEtcd(join(root, 'etcd')),
  startZooKeeper(join(root, 'zk')),
]);
await zabkv.ready(60_000);
const zabkvNodes = [1, 2, 3].map((n) => httpUrl(zabkv.options, n));

const cells: Cell[] = [];
const cell = (system: string, workload: string, clients: number): Cell => {
  let found = cells.find(
    (c) => c.system === system && c.workload === workload && c.clients === clients,
  );
  if (found === undefined) cells.push((found = { system, workload, clients, results: [] }));
  return found;
};

try {
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const [workload, readRatio] of [
      ['writes', 0],
      ['90 % reads (linearizable; ZooKeeper: sync+read)', 0.9],
    ] as const) {
      for (const clients of [1, 16, 64, 256]) {
        const targets: LoadTarget[] = [
          new ZabkvTarget(zabkvNodes, clients),
          new EtcdTarget(etcd.endpoints, clients),
          await ZooKeeperTarget.connect(zookeeper.endpoints, Math.min(clients, 16), KEYS),
        ];
        for (const target of targets) {
          const result = await measure(target, clients, readRatio, 'linearizable');
          cell(target.name, workload, clients).results.push(result);
          console.log(
            `${repeat + 1}/${repeats} ${workload} c=${clients} ${target.name}: ${result.throughput.toFixed(0)} ops/s p99 ${result.latency.p99.toFixed(1)} ms`,
          );
          await target.close();
        }
      }
    }
    // Plain (stale/serializable/local) reads, for the read-consistency comparison.
    const targets: LoadTarget[] = [
      new ZabkvTarget(zabkvNodes, 64),
      new EtcdTarget(etcd.endpoints, 64),
      await ZooKeeperTarget.connect(zookeeper.endpoints, 16, KEYS),
    ];
    for (const target of targets) {
      const result = await measure(target, 64, 0.9, 'stale');
      cell(target.name, '90 % reads (stale / serializable / plain)', 64).results.push(result);
      console.log(
        `${repeat + 1}/${repeats} stale c=64 ${target.name}: ${result.throughput.toFixed(0)} ops/s`,
      );
      await target.close();
    }
  }
  // The load generator's own ceiling: a trivial in-memory HTTP server.
  const trivial = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('{"version":"1"}'));
  });
  await new Promise<void>((resolve) => trivial.listen(0, '127.0.0.1', resolve));
  const ceilingTarget = new ZabkvTarget(
    [`http://127.0.0.1:${(trivial.address() as AddressInfo).port}`],
    64,
  );
  for (let repeat = 0; repeat < repeats; repeat++) {
    cell('trivial HTTP server', 'writes', 64).results.push(
      await measure(ceilingTarget, 64, 0, 'linearizable'),
    );
  }
  await ceilingTarget.close();
  trivial.close();
} finally {
  await Promise.all([zabkv.stop(), etcd.stop(), zookeeper.stop()]);
  rmSync(root, { recursive: true, force: true });
}

const row = (c: Cell) => {
  const throughput = median(c.results.map((r) => r.throughput));
  const p50 = median(c.results.map((r) => r.latency.p50));
  const p99 = median(c.results.map((r) => r.latency.p99));
  const errors = c.results.reduce(
    (n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0),
    0,
  );
  return `| ${c.workload} | ${c.clients} | ${c.system} | ${Math.round(throughput).toLocaleString('en-US')} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${errors} |`;
};
writeBenchmarkSection(
  'suite',
  'zabkv, etcd and ZooKeeper side by side',
  `npm run bench:suite -- --duration ${duration} --repeats ${repeats}`,
  [
    'Each system a 3-node cluster on loopback on this machine, default durability (fsync on): zabkv',
    '(one group of 3, separate processes), etcd 3.4 (Debian etcd-server, v3 JSON gateway over',
    'HTTP/1.1), ZooKeeper 3.8 (Debian zookeeper, `zookeeper` npm client, at most 16 sessions). The',
    `same load generator drives all three, interleaved within each repeat; ${KEYS.toLocaleString('en-US')} keys, 100-byte`,
    `values, ${duration} s per measurement after 1 s of warmup, median of ${repeats}. Clients = requests in flight`,
    "(one connection each over HTTP). ZooKeeper's sync+read is its closest to a linearizable read",
    '(and still is not one, ZOOKEEPER-1675). The last row is the load generator against a trivial',
    'HTTP server: the ceiling of this client on this machine.',
    '',
    '| workload | clients | system | ops/s | p50 ms | p99 ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...cells.map(row),
  ].join('\n'),
);
console.log('BENCHMARKS.md updated');
