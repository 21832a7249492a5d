// The writes/s ratio between data sets, measured the way this shared 2-core machine allows:
// short write phases on the data sets in turn, round after round, each set's cluster started
// again on its kept data, and the median of each round's ratio. One long phase per set (the
// scale run's main table) is one sample each, minutes apart (section.ts prints by how much two
// phases of the same build differed here: more than the target's margin).
import { httpUrl } from '../../client/local-cluster.js';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import { median } from '../report.js';
import { errorCount, runPhase, WRITES, type DataSet } from './phase.js';
import { scaleCluster, type ScaleSettings } from './zabkv-scale.js';

/** Writes before each measured phase, not counted: a restarted node's JIT is cold. */
export const WARMUP_SEC = 10;

export interface WriteRound {
  readonly round: number;
  readonly data: DataSet;
  readonly throughput: number;
  readonly p999: number;
  readonly errors: number;
}

/** A data set and the directory its scale run left (the cluster stopped). */
export interface KeptDataSet {
  readonly data: DataSet;
  readonly dir: string;
}

/**
 * `rounds` rounds of a write phase of `durationSec` on every set; the order turns around each
 * round (ascending, then descending), so no set always runs right after the same one.
 */
export async function runWriteRounds(
  sets: readonly KeptDataSet[],
  settings: ScaleSettings,
  rounds: number,
  durationSec: number,
): Promise<WriteRound[]> {
  const results: WriteRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? sets : [...sets].reverse();
    for (const { data, dir } of order) {
      console.log(
        `round ${round}, ${data.keys.toLocaleString('en-US')} keys: ${WARMUP_SEC} s not counted, then ${durationSec} s`,
      );
      const cluster = scaleCluster(dir, settings);
      cluster.start();
      const urls = [1, 2, 3].map((n) => httpUrl(cluster.options, n));
      const target = new ZabkvTarget(urls, settings.clients);
      try {
        await cluster.ready(60_000);
        const phase = { target, data, workload: WRITES, clients: settings.clients };
        await runPhase({ ...phase, durationSec: WARMUP_SEC });
        const result = await runPhase({ ...phase, durationSec });
        results.push({
          round,
          data,
          throughput: result.throughput,
          p999: result.latency.p999,
          errors: errorCount(result),
        });
      } finally {
        await target.close();
        await cluster.stop();
      }
    }
  }
  return results;
}

export function sameData(a: DataSet, b: DataSet): boolean {
  return a.keys === b.keys && a.valueSize === b.valueSize;
}

/** Per round, `data`'s writes/s over `base`'s; the median of those (null: no round has both). */
export function medianRatio(
  rounds: readonly WriteRound[],
  data: DataSet,
  base: DataSet,
): number | null {
  const ratios: number[] = [];
  for (const r of rounds) {
    if (!sameData(r.data, data)) continue;
    const b = rounds.find((x) => x.round === r.round && sameData(x.data, base));
    if (b !== undefined) ratios.push(r.throughput / b.throughput);
  }
  return ratios.length === 0 ? null : median(ratios);
}

/** Each set's writes/s in every round and its median. */
export function medianThroughput(rounds: readonly WriteRound[], data: DataSet): number | null {
  const mine = rounds.filter((r) => sameData(r.data, data));
  return mine.length === 0 ? null : median(mine.map((r) => r.throughput));
}
