// One measured load phase (writes or 90 % linearizable reads at the benchmark's clients).
import { runLoad, type LoadResult } from '../../loadgen/load-generator.js';
import type { LoadTarget } from '../../loadgen/load-target.js';

export interface DataSet {
  readonly keys: number;
  readonly valueSize: number;
}

export interface Workload {
  readonly name: 'writes' | 'reads';
  readonly readRatio: number;
}

export const WRITES: Workload = { name: 'writes', readRatio: 0 };
export const READS: Workload = { name: 'reads', readRatio: 0.9 };

export interface Phase {
  readonly result: LoadResult;
  readonly errors: number;
  readonly leaderChanges: number | null;
}

/**
 * How long `workload` runs: the write phase carries the targets (5 minutes of 64
 * writers), so a long run may keep the read phase shorter.
 */
export function phaseSeconds(
  workload: Workload,
  durations: { readonly durationSec: number; readonly readDurationSec: number },
): number {
  return workload === READS ? durations.readDurationSec : durations.durationSec;
}

export interface PhaseOptions {
  readonly target: LoadTarget;
  readonly data: DataSet;
  readonly workload: Workload;
  readonly clients: number;
  readonly durationSec: number;
  readonly stop?: AbortSignal;
}

export function errorCount(result: LoadResult): number {
  return Object.values(result.errors).reduce((a, b) => a + b, 0);
}

export async function runPhase(options: PhaseOptions): Promise<LoadResult> {
  const result = await runLoad({
    target: options.target,
    clients: options.clients,
    durationSec: options.durationSec,
    readRatio: options.workload.readRatio,
    consistency: 'linearizable',
    keySpace: options.data.keys,
    keyDistribution: 'uniform',
    valueSize: options.data.valueSize,
    warmupSec: 1,
    seed: options.data.keys,
    ...(options.stop === undefined ? {} : { stop: options.stop }),
  });
  const l = result.latency;
  console.log(
    `  ${options.workload.name}: ${Math.round(result.throughput)} ops/s, p50 ${l.p50.toFixed(1)} ` +
      `p99 ${l.p99.toFixed(1)} p99.9 ${l.p999.toFixed(1)} max ${l.max.toFixed(0)} ms, ` +
      `errors ${errorCount(result)} ${JSON.stringify(result.errors)}`,
  );
  return result;
}
