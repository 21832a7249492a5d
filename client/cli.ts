#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from './demo.js';

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

program.parse();
