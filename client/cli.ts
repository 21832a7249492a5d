#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from './demo.js';
import { ConfigError, resolveNodeConfig, type RawNodeSettings } from '../node/node-config.js';
import { runNode } from '../node/run-node.js';

const program = new Command()
  .name('zabkv')
  .description('A partitioned, linearizable key-value store replicated with ZAB');

program
  .command('demo', { isDefault: true })
  .description(
    'run a simulated 5-replica ZAB group through leader crash, partition and full restart',
  )
  .option('--seed <n>', 'simulation seed', '1')
  .action((options: { seed: string }) => {
    const seed = Number(options.seed);
    if (!Number.isInteger(seed)) program.error(`--seed must be an integer, got ${options.seed}`);
    runDemo(seed, (line) => console.log(line));
    console.log(
      [
        '',
        'Next:',
        '  npm test                      the test suite (200+ simulated fault seeds included)',
        '  npm run sim -- --seeds 10000  the long simulation sweep, split over both cores',
        '  npm run bench:zab             the protocol cost benchmark (results in BENCHMARKS.md)',
      ].join('\n'),
    );
  });

program
  .command('node')
  .description('run one node of a cluster (settings also from ZABKV_* variables or --config)')
  .option('--id <n>', 'this node id (1..65534), fixed for its lifetime')
  .option('--peer <host:port>', 'where other nodes reach this one')
  .option('--http <host:port>', 'where clients reach this one')
  .option('--data <dir>', 'data directory')
  .option('--bootstrap-server', 'this node forms the cluster')
  .option('--cluster-size <n>', 'with --bootstrap-server: nodes to wait for')
  .option('--replication <n>', 'with --bootstrap-server: replicas per group (default 3)')
  .option('--bootstrap <host:port>', "the bootstrap node's peer address")
  .option('--cluster-id <name>', 'refuse peers of other clusters (default zabkv)')
  .option('--config <file>', 'a JSON file with any of these settings')
  .action(async (options: RawNodeSettings) => {
    try {
      await runNode(resolveNodeConfig(options));
    } catch (error) {
      if (error instanceof ConfigError) program.error(error.message);
      throw error;
    }
  });

await program.parseAsync();
