/**
 * The long simulation sweep: `npm run sim -- --seeds 10000 [--first 1] [--jobs 2] [--size 3|5|mixed]`.
 * Runs the random-fault ZAB scenario on consecutive seeds, split across worker processes,
 * and prints every failing seed with the command that replays it.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  RANDOM_WORKLOAD,
  RandomScenario,
  countFaults,
  faultsNeverInjected,
} from './zab-workload.js';
import type { WatchStats } from './watch-check.js';

interface SweepOptions {
  seeds: number;
  first: number;
  jobs: number;
  size: string;
}

interface Report {
  passed: number;
  failed: { seed: number; size: number; error: string }[];
  /** Faults injected, by kind (as [kind, count] pairs: a report crosses a process boundary). */
  faults: [string, number][];
  /** Leaders established while an older one still led and served. */
  deposedStillLeading: number;
  /** Watch batches checked, the events in them, and watchers told Compacted. */
  watch: [batches: number, events: number, compacted: number];
}

/** A sweep this long must have injected every kind of fault at least once. */
const COVERAGE_SEEDS = 100;

/** The group size a seed runs with: 3 and 5 alternate under `mixed`. */
export function sizeOf(seed: number, size: string): number {
  if (size === 'mixed') return seed % 2 === 0 ? 3 : 5;
  return Number(size);
}

export function runOne(
  seed: number,
  size: number,
): {
  error: string | null;
  faults: readonly string[];
  deposedStillLeading: number;
  watch?: WatchStats;
} {
  let scenario: RandomScenario | undefined;
  try {
    scenario = new RandomScenario(seed, size, RANDOM_WORKLOAD);
    const result = scenario.run();
    return {
      error: result.verdict === 'ok' ? null : `history is ${result.verdict}`,
      faults: result.faults,
      deposedStillLeading: result.stats.deposedStillLeading,
      watch: result.watch,
    };
  } catch (error) {
    // The faults injected before the failure still count.
    return {
      error: error instanceof Error ? error.message.split('\n')[0]! : String(error),
      faults: scenario?.faults ?? [],
      deposedStillLeading: scenario?.cluster.stats.deposedStillLeading ?? 0,
    };
  }
}

function runRange(first: number, count: number, size: string): Report {
  const report: Report = {
    passed: 0,
    failed: [],
    faults: [],
    deposedStillLeading: 0,
    watch: [0, 0, 0],
  };
  const faults = new Map<string, number>();
  for (let seed = first; seed < first + count; seed++) {
    const result = runOne(seed, sizeOf(seed, size));
    countFaults(result.faults, faults);
    report.deposedStillLeading += result.deposedStillLeading;
    const watch = result.watch;
    if (watch !== undefined) {
      report.watch = [
        report.watch[0] + watch.batches,
        report.watch[1] + watch.events,
        report.watch[2] + watch.compacted,
      ];
    }
    if (result.error === null) report.passed++;
    else report.failed.push({ seed, size: sizeOf(seed, size), error: result.error });
  }
  report.faults = [...faults];
  return report;
}

/**
 * The command that replays one seed of this sweep. The variables are the project's own: a
 * generic SEED or SIZE in someone's environment changes nothing.
 */
export function replayCommand(seed: number, size: number): string {
  return (
    `ZABKV_SEED=${seed} ZABKV_SIZE=${size} npx vitest run test/sim/zab-random.test.ts` +
    ` -t '${size} replicas'`
  );
}

async function main(): Promise<void> {
  if (process.env['SWEEP_WORKER'] !== undefined) {
    const [first, count, size] = process.env['SWEEP_WORKER'].split(':');
    process.send!(runRange(Number(first), Number(count), size!));
    return;
  }
  const options = new Command()
    .option('--seeds <n>', 'how many consecutive seeds', '1000')
    .option('--first <n>', 'the first seed', '1')
    .option('--jobs <n>', 'worker processes', '2')
    .option('--size <n>', 'replicas per group: 3, 5 or mixed', 'mixed')
    .parse()
    .opts<Record<keyof SweepOptions, string>>();
  const seeds = Number(options.seeds);
  const first = Number(options.first);
  if (!(Number.isInteger(seeds) && seeds > 0) || !Number.isInteger(first))
    throw new Error(`--seeds must be a positive integer and --first an integer`);
  const jobs = Math.max(1, Math.min(Number(options.jobs), seeds));
  const started = performance.now();
  const per = Math.ceil(seeds / jobs);
  const reports = await Promise.all(
    Array.from({ length: jobs }, (_, job) => {
      const from = first + job * per;
      const count = Math.max(0, Math.min(per, first + seeds - from));
      return new Promise<Report>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), [], {
          env: { ...process.env, SWEEP_WORKER: `${from}:${count}:${options.size}` },
        });
        child.once('message', (report) => resolve(report as Report));
        child.once('error', reject);
        child.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
      });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const failed = reports.flatMap((r) => r.failed);
  const passed = reports.reduce((sum, r) => sum + r.passed, 0);
  const faults = new Map<string, number>();
  for (const report of reports)
    for (const [kind, count] of report.faults) faults.set(kind, (faults.get(kind) ?? 0) + count);
  const deposed = reports.reduce((sum, r) => sum + r.deposedStillLeading, 0);
  const watch = [0, 1, 2].map((i) => reports.reduce((sum, r) => sum + r.watch[i]!, 0));
  for (const { seed, size, error } of failed) {
    console.log(`FAIL seed ${seed} (${size} replicas): ${error}`);
    console.log(`  replay: ${replayCommand(seed, size)}`);
  }
  console.log(
    `faults: ${[...faults].map(([kind, count]) => `${kind} ${count}`).join(', ')}; ` +
      `leaders established while a deposed one still led: ${deposed}`,
  );
  console.log(
    `watchers: ${watch[0]} batches checked, ${watch[1]} events, ${watch[2]} told Compacted`,
  );
  // A sweep that ran fewer seeds than asked, or that never injected some kind of fault, tests
  // less than it claims: it fails.
  const problems: string[] = [];
  if (passed + failed.length !== seeds)
    problems.push(`ran ${passed + failed.length} of ${seeds} seeds`);
  const missing = faultsNeverInjected(faults);
  if (seeds >= COVERAGE_SEEDS && missing.length > 0)
    problems.push(`never injected: ${missing.join(', ')}`);
  if ([...faults.values()].every((count) => count === 0)) problems.push('no fault was injected');
  for (const problem of problems) console.log(`SWEEP BROKEN: ${problem}`);
  console.log(
    `${passed} passed, ${failed.length} failed; seeds ${first}..${first + seeds - 1}, ` +
      `${options.size} replicas, ${jobs} jobs, ${seconds.toFixed(1)} s ` +
      `(${((seeds / seconds) * 60).toFixed(0)} seeds/min)`,
  );
  process.exitCode = failed.length === 0 && problems.length === 0 ? 0 : 1;
}

await main();
