import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { writeReport } from './report.js';
import { runReal } from './run-real.js';
import { runSim } from './run-sim.js';
import { readScenario } from './scenario.js';

export { ScenarioError } from './scenario.js';

/** Where a report goes by default: `<scenario>-report/` (real) or `<scenario>-sim-report/` beside the file. */
function defaultOut(file: string, suffix: string): string {
  return join(dirname(file), `${basename(file, extname(file))}-${suffix}`);
}

/** `zabkv experiment run <file>`: on real processes. */
export async function experimentRun(
  file: string,
  flags: { out?: string; seed?: string },
): Promise<void> {
  const scenario = readScenario(file);
  const dataDir = mkdtempSync(join(tmpdir(), 'zabkv-experiment-'));
  try {
    const result = await runReal(scenario, {
      dataDir,
      seed: Number(flags.seed ?? 1),
      log: (line) => console.log(line),
    });
    const report = await writeReport(flags.out ?? defaultOut(file, 'report'), scenario, [result]);
    console.log(`linearizability: ${result.linearizability.verdict}; report: ${report}`);
    if (result.linearizability.verdict === 'illegal') process.exitCode = 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `zabkv experiment sim <file> --seeds N`: in the deterministic simulator. */
export async function experimentSim(
  file: string,
  flags: { out?: string; seeds?: string; firstSeed?: string },
): Promise<void> {
  const scenario = readScenario(file);
  const count = Number(flags.seeds ?? 5);
  const first = Number(flags.firstSeed ?? 1);
  if (!Number.isInteger(count) || count < 1) throw new Error('--seeds must be a positive integer');
  const results = [];
  for (let seed = first; seed < first + count; seed++) {
    const result = runSim(scenario, seed);
    console.log(
      `seed ${seed}: ${result.linearizability.verdict}, ${result.counts.ok} operations answered`,
    );
    results.push(result);
  }
  const report = await writeReport(flags.out ?? defaultOut(file, 'sim-report'), scenario, results);
  console.log(`report: ${report}`);
  if (results.some((r) => r.linearizability.verdict === 'illegal')) process.exitCode = 1;
}
