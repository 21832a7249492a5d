// SVG plots of benchmark results, rendered headless with vega-lite + vega (no canvas).
//
//   import { latencyDistributionSvg, throughputTimelineSvg, writeSvg } from '../loadgen/plots/index.js';
//   const result = await runLoad({ ... });                       // a LoadResult
//   await writeSvg('out/throughput.svg', await throughputTimelineSvg(
//     [{ name: result.target, timeline: result.timeline }], { title: 'writes, 64 clients' }));
//   await writeSvg('out/latency.svg', await latencyDistributionSvg(
//     [{ name: result.target, distribution: result.distribution }], { title: 'write latency' }));
//
//   // failover-bench: 100 ms buckets from 1 s before the kill; put the kill at t = 0
//   await throughputTimelineSvg(
//     runs.map(([name, run]) => ({ name, timeline: run.timeline })),
//     { title: 'kill -9 of the leader', bucketMs: 100, startMs: -1000, xTitle: 'time since kill (s)',
//       markers: [{ atMs: 0, label: 'kill -9', untilMs: run.windowMs }] });
//
//   // suite: throughput vs concurrency, grouped by client count, one colour per system
//   await barChartSvg([{ clients: 64, system: 'zabkv', opsPerSec: 9000 }, ...], { title: 'writes' });
export { barChartSvg, type BarChartOptions, type BarDatum } from './bar-chart.js';
export {
  latencyDistributionSvg,
  type DistributionOptions,
  type DistributionSeries,
} from './latency-distribution.js';
export { writeLoadResultSvgs } from './load-result-svgs.js';
export { percentileAxis, percentileToX, type PercentileAxis } from './percentile-axis.js';
export { renderSvg } from './render.js';
export {
  throughputTimelineSvg,
  type TimelineMarker,
  type TimelineOptions,
  type TimelineSeries,
} from './throughput-timeline.js';
export { writeSvg } from './write-svg.js';
