// One measurement of the suite and the bookkeeping of all of them.
import { runLoad, type LoadResult } from '../../loadgen/load-generator.js';
import type { LoadTarget } from '../../loadgen/load-target.js';
import { median, middle } from '../report.js';

export const KEYS = 10_000;
export const VALUE_SIZE = 100;
export const WARMUP_SEC = 1;
/**
 * Writes each system takes after its start, before its first measurement. zabkv (V8) and
 * ZooKeeper (the JVM) compile their request paths only after thousands of requests: a zabkv
 * group measured at one client in its first seconds ran ~200 writes/s against ~400 once warm,
 * so without this the first cell of the suite measured the compiler, and only zabkv's.
 */
export const SYSTEM_WARMUP_SEC = 10;
const SYSTEM_WARMUP_CLIENTS = 64;

export interface Settings {
  readonly durationSec: number;
  readonly repeats: number;
  /** The command line that reproduces this run, for the headers of BENCHMARKS.md. */
  readonly command: string;
}

export interface Workload {
  /** As in the side-by-side tables, which say what each system's read is. */
  readonly name: string;
  /** For plot titles and the zabkv-only table. */
  readonly short: string;
  readonly readRatio: number;
  readonly consistency: 'linearizable' | 'stale';
}

export const WRITES: Workload = {
  name: 'writes',
  short: 'writes',
  readRatio: 0,
  consistency: 'linearizable',
};
export const READS: Workload = {
  name: '90 % reads (linearizable; ZooKeeper: sync+read)',
  short: '90 % linearizable reads',
  readRatio: 0.9,
  consistency: 'linearizable',
};
export const STALE_READS: Workload = {
  name: '90 % reads (stale / serializable / plain)',
  short: '90 % stale reads',
  readRatio: 0.9,
  consistency: 'stale',
};

/** Opens a client of one system with `clients` requests in flight. */
export type Connect = (clients: number) => Promise<LoadTarget>;

/** All measurements of one (system, workload, clients), in the order they were taken. */
export interface Cell {
  readonly system: string;
  readonly workload: string;
  readonly clients: number;
  readonly results: LoadResult[];
}

export class Cells {
  readonly all: Cell[] = [];

  results(system: string, workload: Workload, clients: number): readonly LoadResult[] {
    return this.find(system, workload.name, clients)?.results ?? [];
  }

  add(system: string, workload: Workload, clients: number, result: LoadResult): void {
    let cell = this.find(system, workload.name, clients);
    if (cell === undefined) {
      cell = { system, workload: workload.name, clients, results: [] };
      this.all.push(cell);
    }
    cell.results.push(result);
  }

  private find(system: string, workload: string, clients: number): Cell | undefined {
    return this.all.find(
      (c) => c.system === system && c.workload === workload && c.clients === clients,
    );
  }
}

export interface Summary {
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

/** Medians over the repeats; errors are summed, since any error at all is worth seeing. */
export function summarize(results: readonly LoadResult[]): Summary {
  return {
    throughput: median(results.map((r) => r.throughput)),
    p50: median(results.map((r) => r.latency.p50)),
    p99: median(results.map((r) => r.latency.p99)),
    errors: results.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
  };
}

/** The run whose throughput is the median: the one whose curves the plots show. */
export function medianRun(results: readonly LoadResult[]): LoadResult {
  return middle(results, (r) => r.throughput);
}

export const opsPerSec = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Loads a system just started with writes (SYSTEM_WARMUP_SEC) and keeps no result. */
export async function warmUp(system: string, connect: Connect): Promise<void> {
  const target = await connect(SYSTEM_WARMUP_CLIENTS);
  try {
    const result = await runLoad({
      target,
      clients: SYSTEM_WARMUP_CLIENTS,
      durationSec: SYSTEM_WARMUP_SEC,
      readRatio: 0,
      consistency: 'linearizable',
      keySpace: KEYS,
      keyDistribution: 'uniform',
      valueSize: VALUE_SIZE,
      warmupSec: 0,
      seed: 0,
    });
    console.log(`warmup ${system}: ${opsPerSec(result.throughput)} ops/s (not recorded)`);
  } finally {
    await target.close();
  }
}

/** Measures `system` once (a fresh client each time) and records the result in `cells`. */
export async function measureOnce(
  cells: Cells,
  settings: Settings,
  system: string,
  connect: Connect,
  workload: Workload,
  clients: number,
  repeat: number,
): Promise<void> {
  const target = await connect(clients);
  let result: LoadResult;
  try {
    result = await runLoad({
      target,
      clients,
      durationSec: settings.durationSec,
      readRatio: workload.readRatio,
      consistency: workload.consistency,
      keySpace: KEYS,
      keyDistribution: 'uniform',
      valueSize: VALUE_SIZE,
      warmupSec: WARMUP_SEC,
      seed: clients,
    });
  } finally {
    await target.close();
  }
  cells.add(system, workload, clients, result);
  console.log(
    `${repeat + 1}/${settings.repeats} ${workload.name} c=${clients} ${system}: ` +
      `${opsPerSec(result.throughput)} ops/s p99 ${result.latency.p99.toFixed(1)} ms`,
  );
}
