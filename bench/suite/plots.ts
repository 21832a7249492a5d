// The suite's SVG plots under docs/bench/; each function returns the Markdown links to them.
// Series always go in SYSTEMS order so that zabkv, etcd and ZooKeeper keep their colours.
import {
  barChartSvg,
  latencyDistributionSvg,
  throughputTimelineSvg,
} from '../../loadgen/plots/index.js';
import { writePlot } from '../report.js';
import { READS, STALE_READS, WRITES, medianRun, summarize } from './measure.js';
import type { Cells, Workload } from './measure.js';
import { CLIENTS, PLOT_CLIENTS, SYSTEMS } from './side-by-side.js';

async function throughputBars(cells: Cells, workload: Workload, file: string): Promise<string> {
  const bars = SYSTEMS.flatMap((system) =>
    CLIENTS.flatMap((clients) => {
      const results = cells.results(system, workload, clients);
      return results.length === 0
        ? []
        : [{ clients, system, opsPerSec: summarize(results).throughput }];
    }),
  );
  const title = `Throughput by clients: ${workload.short} (median of the repeats)`;
  return writePlot(file, title, await barChartSvg(bars, { title }));
}

/** The systems measured on `workload` at PLOT_CLIENTS, each with its median run. */
function medianRuns(cells: Cells, workload: Workload) {
  return SYSTEMS.flatMap((name) => {
    const results = cells.results(name, workload, PLOT_CLIENTS);
    return results.length === 0 ? [] : [{ name, run: medianRun(results) }];
  });
}

async function latency(cells: Cells, workload: Workload, file: string): Promise<string> {
  const title = `Latency by percentile: ${workload.short}, ${PLOT_CLIENTS} clients (median run)`;
  const series = medianRuns(cells, workload).map(({ name, run }) => ({
    name,
    distribution: run.distribution,
  }));
  return writePlot(file, title, await latencyDistributionSvg(series, { title }));
}

async function timeline(cells: Cells, workload: Workload, file: string): Promise<string> {
  const title = `Throughput over time: ${workload.short}, ${PLOT_CLIENTS} clients (median run)`;
  const series = medianRuns(cells, workload).map(({ name, run }) => ({
    name,
    timeline: run.timeline,
  }));
  const svg = await throughputTimelineSvg(series, {
    title,
    xTitle: 'time since the end of the warmup (s)',
  });
  return writePlot(file, title, svg);
}

export async function systemsPlots(cells: Cells): Promise<string[]> {
  return [
    await throughputBars(cells, WRITES, 'suite-writes.svg'),
    await throughputBars(cells, READS, 'suite-reads.svg'),
    await latency(cells, WRITES, 'suite-latency-writes.svg'),
    await latency(cells, READS, 'suite-latency-reads.svg'),
    await timeline(cells, WRITES, 'suite-timeline-writes.svg'),
  ];
}

export async function stalePlots(cells: Cells): Promise<string[]> {
  return [await latency(cells, STALE_READS, 'suite-latency-stale.svg')];
}
