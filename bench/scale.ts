// Issue 14's scale benchmark: one group of 3 nodes at growing data sets (default 10k and 1M
// keys of 100 B), and optionally etcd and ZooKeeper at 1M keys. Writes the Scale section of
// BENCHMARKS.md and docs/bench/scale-*.svg.
//   npm run bench:scale -- [--keys 10000,1000000] [--big] [--duration 20] [--read-duration 20]
//                          [--rounds 3] [--round-duration 20] [--compare] [--compare-keys 1000000]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { nonNegativeInteger, positive, positiveInteger, positiveIntegers } from './bench-flags.js';
import { exitOnSignals } from '../client/process-exit.js';
import { runExternalScale } from './scale/external-scale.js';
import type { DataSet } from './scale/phase.js';
import {
  dataLabel,
  roundsTable,
  stallTable,
  table,
  verdict,
  writeScaleSection,
} from './scale/section.js';
import { runWriteRounds, type WriteRound } from './scale/write-rounds.js';
import { runZabkvScale, type ScaleRun, type ScaleSettings } from './scale/zabkv-scale.js';

const VALUE_SIZE = 100;
const BIG: DataSet = { keys: 100_000, valueSize: 10_000 };
const COMPARE_KEYS = 1_000_000;

/** Whether `what` (a command on the PATH or a file) is there. */
function installed(what: string): boolean {
  if (what.startsWith('/')) return existsSync(what);
  try {
    execFileSync('sh', ['-c', `command -v ${what}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const options = new Command()
  .option(
    '--keys <list>',
    'key counts of 100-byte values, comma-separated',
    positiveIntegers,
    [10_000, 1_000_000],
  )
  .option('--big', 'also 100k keys of 10 KB (1 GB)', false)
  .option('--duration <s>', 'seconds of each write phase (and read phase)', positive, 20)
  .option('--read-duration <s>', 'seconds of each read phase (default: --duration)', positive)
  .option(
    '--rounds <n>',
    'interleaved write rounds over the 100-byte data sets, for the writes/s ratio (0: none)',
    nonNegativeInteger,
    3,
  )
  .option(
    '--round-duration <s>',
    'seconds of each round (default: --duration, at most 60)',
    positive,
  )
  .option('--clients <n>', 'closed-loop clients of each load phase', positive, 64)
  .option('--preload-writers <n>', 'concurrent writers of the preload', positive, 128)
  .option('--compare', 'also etcd and ZooKeeper (slow preloads)', false)
  .option(
    '--compare-keys <n>',
    'keys of 100-byte values for etcd and ZooKeeper',
    positiveInteger,
    COMPARE_KEYS,
  )
  .option('--log-level <level>', "the nodes' LOG_LEVEL", 'warn')
  .option(
    '--measure-turn-cpu',
    'start the nodes with --measure-turn-cpu: long turns are judged by their time on the CPU (two clock reads per turn, ~10 % more CPU per write)',
    false,
  )
  .option('--keep', 'keep the data directories (node logs) for inspection', false)
  .parse()
  .opts<{
    keys: number[];
    big: boolean;
    duration: number;
    readDuration?: number;
    rounds: number;
    roundDuration?: number;
    clients: number;
    preloadWriters: number;
    compare: boolean;
    compareKeys: number;
    keep: boolean;
    logLevel: string;
    measureTurnCpu: boolean;
  }>();

const settings: ScaleSettings = {
  clients: options.clients,
  durationSec: options.duration,
  readDurationSec: options.readDuration ?? options.duration,
  preloadWriters: options.preloadWriters,
  logLevel: options.logLevel,
  measureTurnCpu: options.measureTurnCpu,
};
const roundSec = options.roundDuration ?? Math.min(options.duration, 60);
const compared: DataSet = { keys: options.compareKeys, valueSize: VALUE_SIZE };
const dataSets: DataSet[] = [
  ...options.keys.map((keys) => ({ keys, valueSize: VALUE_SIZE })),
  ...(options.big ? [BIG] : []),
];
// --keep changes nothing measured, so the reproducing command leaves it out.
const command = ['npm run bench:scale --', ...process.argv.slice(2).filter((a) => a !== '--keep')]
  .join(' ')
  .replace(/ --$/, '');
const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');
const startLoad = loadAverage();
console.log(`load average ${startLoad}`);

/**
 * Rewrites the section with every run so far, so that a failure later (a 5M-key preload that
 * runs out of disk, a system that does not start) keeps what was measured before it.
 */
async function report(): Promise<void> {
  console.log(
    [
      ...table(runs),
      '',
      ...stallTable(runs),
      '',
      ...roundsTable(runs, rounds),
      '',
      ...verdict(runs, rounds),
    ].join('\n'),
  );
  await writeScaleSection(
    runs,
    rounds,
    roundSec,
    command,
    `${startLoad} at the start, ${loadAverage()} at the end`,
    settings,
  );
}

const root = mkdtempSync(join(tmpdir(), 'zabkv-scale-'));
// Ctrl-C or a kill: every node and server is killed on the way out (killOnExit), and the data
// directories go too, as after a failed phase.
exitOnSignals();
process.once('exit', () => {
  try {
    if (!options.keep) rmSync(root, { recursive: true, force: true });
  } catch {
    console.error(`could not remove ${root}`);
  }
});
const runs: ScaleRun[] = [];
let rounds: WriteRound[] = [];
const zabkvDir = (data: DataSet): string => join(root, `zabkv-${data.keys}-${data.valueSize}`);
try {
  for (const data of dataSets) {
    console.log(`zabkv, ${dataLabel(data)}`);
    runs.push(await runZabkvScale(zabkvDir(data), data, settings));
    await report();
  }
  const interleaved = runs
    .filter((r) => r.data.valueSize === VALUE_SIZE)
    .map((r) => ({ data: r.data, dir: zabkvDir(r.data) }));
  if (options.rounds > 0 && interleaved.length > 1) {
    console.log(`interleaved write rounds: ${options.rounds} x ${roundSec} s per data set`);
    // Rounds that fail (a cluster that does not start again) keep the runs reported above.
    try {
      rounds = await runWriteRounds(interleaved, settings, options.rounds, roundSec);
      await report();
    } catch (error) {
      console.error(
        `write rounds failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exitCode = 1;
    }
  }
  if (options.compare) {
    for (const [system, binary] of [
      ['etcd', 'etcd'],
      ['zookeeper', '/usr/share/java/zookeeper.jar'],
    ] as const) {
      if (!installed(binary)) {
        console.log(`${system}: not installed (${binary}), skipped`);
        continue;
      }
      console.log(`${system}, ${dataLabel(compared)}`);
      // One system failing (a port taken, a JVM out of memory) must not cost the other's row
      // after a long run; its processes are stopped by then.
      try {
        runs.push(await runExternalScale(system, join(root, system), compared, settings));
      } catch (error) {
        console.error(
          `${system} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        process.exitCode = 1;
        continue;
      }
      await report();
    }
  }
} finally {
  if (options.keep) console.log(`data directories and node logs kept in ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
console.log('BENCHMARKS.md (Scale) and docs/bench/scale-*.svg updated');
