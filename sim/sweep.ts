/**
 * The long simulation sweep: `npm run sim -- --seeds 10000 [--first 1] [--jobs 2] [--size 3|5|mixed]`.
 * Runs the random-fault ZAB scenario on consecutive seeds, split across worker processes,
 * and prints every failing seed with the command that replays it.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { RANDOM_WORKLOAD, RandomScenario } from './zab-workload.js';

interface SweepOptions {
  seeds: number;
  first: number;
  jobs: number;
  size: string;
}

interface Report {
  passed: number;
  failed: { seed: number; size: number; error: string }[];
}

/** The group size a seed runs with: 3 and 5 alternate under `mixed`. */
export function sizeOf(seed: number, size: string): number {
  if (size === 'mixed') return seed % 2 === 0 ? 3 : 5;
  return Number(size);
}

export function runOne(seed: number, size: number): string | null {
  try {
    const result = new RandomScenario(seed, size, RANDOM_WORKLOAD).run();
    return result.verdict === 'ok' ? null : `history is ${result.verdict}`;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0]! : String(error);
  }
}

function runRange(first: number, count: number, size: string): Report {
  const report: Report = { passed: 0, failed: [] };
  for (let seed = first; seed < first + count; seed++) {
    const error = runOne(seed, sizeOf(seed, size));
    if (error === null) report.passed++;
    else report.failed.push({ seed, size: sizeOf(seed, size), error });
  }
  return report;
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
  for (const { seed, size, error } of failed) {
    console.log(`FAIL seed ${seed} (${size} replicas): ${error}`);
    console.log(`  replay: SEED=${seed} SIZE=${size} npx vitest run test/sim/zab-random.test.ts`);
  }
  console.log(
    `${passed} passed, ${failed.length} failed; seeds ${first}..${first + seeds - 1}, ` +
      `${options.size} replicas, ${jobs} jobs, ${seconds.toFixed(1)} s ` +
      `(${((seeds / seconds) * 60).toFixed(0)} seeds/min)`,
  );
  process.exitCode = failed.length === 0 ? 0 : 1;
}

await main();
