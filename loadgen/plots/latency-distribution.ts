import type { TopLevelSpec } from 'vega-lite';
import { percentileAxis, tickLabelExpr } from './percentile-axis.js';
import { renderSvg, seriesColor, valueAxis } from './render.js';

export interface DistributionSeries {
  readonly name: string;
  /** [percentile (0..100), latency in ms], as `LoadResult.distribution`. */
  readonly distribution: readonly (readonly [number, number])[];
}

export interface DistributionOptions {
  readonly title: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * The HDR "latency by percentile" plot: x is the percentile on a log scale of 1/(1-p)
 * (ticks 50 %, 90 %, 99 %, 99.9 %, 99.99 %, and "max" for p = 100), y the latency in ms, one
 * line per series. Points that cannot be placed (p outside 0..100, latency not finite) are
 * left out.
 */
export async function latencyDistributionSvg(
  series: readonly DistributionSeries[],
  opts: DistributionOptions,
): Promise<string> {
  const axis = percentileAxis(series.flatMap((s) => s.distribution.map(([p]) => p)));
  const points = series.flatMap(({ name, distribution }) =>
    distribution.flatMap(([p, ms]) => {
      const x = axis.x(p);
      return x === null || !Number.isFinite(ms) ? [] : [{ series: name, p, x, ms }];
    }),
  );
  const spec: TopLevelSpec = {
    title: opts.title,
    width: opts.width ?? 640,
    height: opts.height ?? 300,
    data: { values: points },
    mark: { type: 'line', point: true, strokeWidth: 1.75 },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: 'percentile',
        scale: { type: 'log', domain: axis.domain, nice: false },
        axis: {
          values: axis.ticks.map((t) => t.value),
          labelExpr: tickLabelExpr(axis.ticks),
          labelOverlap: false,
        },
      },
      y: valueAxis('ms', 'latency (ms)', points.length === 0),
      color: seriesColor(
        'series',
        series.map((s) => s.name),
      ),
    },
  };
  return renderSvg(spec);
}
