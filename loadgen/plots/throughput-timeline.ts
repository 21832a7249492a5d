import type { TopLevelSpec } from 'vega-lite';
import { renderSvg, seriesColor, valueAxis } from './render.js';

/** One layer of a layered spec (vega-lite exports no name for it). */
type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

export interface TimelineSeries {
  readonly name: string;
  /** Operations completed in each bucket, oldest first. */
  readonly timeline: readonly number[];
}

export interface TimelineMarker {
  /** When it happened, in ms on the same clock as the buckets (see `startMs`). */
  readonly atMs: number;
  readonly label: string;
  /** When given, the span atMs..untilMs is shaded (e.g. the unavailability window). */
  readonly untilMs?: number;
}

export interface TimelineOptions {
  readonly title: string;
  /** Length of one bucket; counts are divided by it to give ops/s. Default 1000. */
  readonly bucketMs?: number;
  /** Time of the start of bucket 0. Default 0; e.g. -1000 puts a kill 1 s in at t = 0. */
  readonly startMs?: number;
  readonly markers?: readonly TimelineMarker[];
  readonly xTitle?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Line chart of ops/s over time, one line per series, with optional vertical markers. Each
 * bucket is drawn as a flat step over its own interval, so a stall shows where it happened.
 */
export async function throughputTimelineSvg(
  series: readonly TimelineSeries[],
  opts: TimelineOptions,
): Promise<string> {
  const bucketMs = opts.bucketMs ?? 1000;
  if (!(bucketMs > 0)) throw new RangeError(`bucketMs must be positive, got ${bucketMs}`);
  const startMs = opts.startMs ?? 0;
  const seconds = (ms: number) => ms / 1000;
  const points = series.flatMap(({ name, timeline }) => {
    const rates = timeline.map((count) => (Number.isFinite(count) ? (count * 1000) / bucketMs : 0));
    // The closing point carries the last bucket's rate to the end of its interval.
    return [...rates, ...rates.slice(-1)].map((opsPerSec, i) => ({
      series: name,
      t: seconds(startMs + i * bucketMs),
      opsPerSec,
    }));
  });
  const markers = (opts.markers ?? []).filter((m) => Number.isFinite(m.atMs));
  const rules = markers.map((m, i) => ({
    t: seconds(m.atMs),
    label: m.label,
    labelY: 4 + 14 * (i % 2),
  }));
  const spans = markers
    .filter((m) => m.untilMs !== undefined && Number.isFinite(m.untilMs))
    .map((m) => ({ t: seconds(m.atMs), t2: seconds(m.untilMs!) }));
  const times = [...points.map((p) => p.t), ...rules.map((r) => r.t), ...spans.map((s) => s.t2)];
  const domain: [number, number] =
    times.length === 0 ? [0, 1] : [Math.min(...times), Math.max(...times)];
  if (domain[0] === domain[1]) domain[1] = domain[0] + seconds(bucketMs);
  const xTitle = opts.xTitle ?? 'time (s)';
  const x = {
    field: 't',
    type: 'quantitative',
    title: xTitle,
    scale: { domain, nice: false },
  } as const;
  const layers: Layer[] = [];
  if (spans.length > 0) {
    layers.push({
      data: { values: spans },
      mark: { type: 'rect', color: '#999', opacity: 0.18 },
      encoding: { x, x2: { field: 't2' } },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.75 },
    encoding: {
      x,
      y: valueAxis('opsPerSec', 'ops/s', points.length === 0),
      color: seriesColor(
        'series',
        series.map((s) => s.name),
      ),
    },
  });
  if (rules.length > 0) {
    layers.push(
      {
        data: { values: rules },
        mark: { type: 'rule', color: '#c00', strokeDash: [4, 3] },
        encoding: { x },
      },
      {
        data: { values: rules },
        mark: { type: 'text', color: '#c00', align: 'left', baseline: 'top', dx: 3 },
        encoding: {
          x,
          y: { field: 'labelY', type: 'quantitative', scale: null },
          text: { field: 'label' },
        },
      },
    );
  }
  const spec: TopLevelSpec = {
    title: opts.title,
    width: opts.width ?? 640,
    height: opts.height ?? 300,
    layer: layers,
  };
  return renderSvg(spec);
}
