// Starts 3-node etcd and ZooKeeper clusters on loopback (Debian's etcd-server and zookeeper,
// default fsync settings), prints how to drive them with `zabkv bench`, and stops them on
// Ctrl-C. The benchmark scripts start their own; this is for measuring by hand.
//   npm run systems -- [--only etcd|zookeeper] [--data <dir>]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { startEtcd, startZooKeeper, type ExternalCluster } from './external-clusters.js';

const options = new Command()
  .addOption(new Option('--only <system>', 'start just one of them').choices(['etcd', 'zookeeper']))
  .option('--data <dir>', 'data directory (default: a temporary one, removed on exit)')
  .parse()
  .opts<{ only?: 'etcd' | 'zookeeper'; data?: string }>();

const root = options.data ?? mkdtempSync(join(tmpdir(), 'zabkv-systems-'));
const clusters: ExternalCluster[] = [];
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  await Promise.all(clusters.map((cluster) => cluster.stop()));
  if (options.data === undefined) rmSync(root, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  if (options.only !== 'zookeeper') clusters.push(await startEtcd(join(root, 'etcd')));
  if (options.only !== 'etcd') clusters.push(await startZooKeeper(join(root, 'zk')));
} catch (error) {
  console.error(
    `could not start: ${error instanceof Error ? error.message : String(error)}\n` +
      'etcd and ZooKeeper come from Debian: apt-get install etcd-server zookeeper',
  );
  await stop(1);
}

for (const cluster of clusters) {
  const nodes = cluster.endpoints.join(',');
  console.log(`${cluster.name}: ${nodes}`);
  console.log(`  npm run bench -- --target ${cluster.name} --nodes ${nodes} --clients 64\n`);
}
console.log(`data under ${root}; Ctrl-C stops every process.`);
