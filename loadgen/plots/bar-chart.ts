import type { TopLevelSpec } from 'vega-lite';
import { renderSvg, seriesColor, valueAxis } from './render.js';

export interface BarDatum {
  /** Requests in flight (the x group: 1, 16, 64, 256, …). */
  readonly clients: number;
  /** The colour, e.g. zabkv, etcd, zookeeper. */
  readonly system: string;
  readonly opsPerSec: number;
}

export interface BarChartOptions {
  readonly title: string;
  readonly xTitle?: string;
  readonly yTitle?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Grouped bars: one group per client count (ascending), one bar per system inside it, the
 * systems coloured in the order they first appear.
 */
export async function barChartSvg(
  bars: readonly BarDatum[],
  opts: BarChartOptions,
): Promise<string> {
  const values = bars.filter((b) => Number.isFinite(b.clients) && Number.isFinite(b.opsPerSec));
  const systems = [...new Set(values.map((b) => b.system))];
  const clients = [...new Set(values.map((b) => b.clients))].sort((a, b) => a - b);
  const spec: TopLevelSpec = {
    title: opts.title,
    width: opts.width ?? 640,
    height: opts.height ?? 300,
    data: { values: values.map((b) => ({ ...b })) },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'clients',
        type: 'ordinal',
        title: opts.xTitle ?? 'clients',
        scale: { domain: clients },
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'system', type: 'nominal', scale: { domain: systems } },
      y: valueAxis('opsPerSec', opts.yTitle ?? 'ops/s', values.length === 0),
      color: seriesColor('system', systems),
    },
  };
  return renderSvg(spec);
}
