#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from './demo.js';

const program = new Command()
  .name('zabkv')
  .description('A partitioned, linearizable key-value store replicated with ZAB');

program
  .command('demo', { isDefault: true })
  .description('run a simulated 5-node cluster through crash, restart, partition and heal')
  .option('--seed <n>', 'simulation seed', '1')
  .action((options: { seed: string }) => {
    const seed = Number(options.seed);
    if (!Number.isInteger(seed)) program.error(`--seed must be an integer, got ${options.seed}`);
    runDemo(seed, (line) => console.log(line));
    console.log(
      '\nNext: `npm test` runs the test suite; `npm run bench:kernel` and `npm run bench:net`' +
        ' measure the kernel and the TCP network (results in BENCHMARKS.md).',
    );
  });

program.parse();
