import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The look every plot shares; a spec's own `config` entries win. */
const baseConfig = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: '#ddd' },
  title: { fontSize: 14, anchor: 'start' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
} as const;

/**
 * A quantitative axis; with no points it gets a fixed domain, as vega-lite draws none for an
 * empty one.
 */
export function valueAxis(field: string, title: string, empty: boolean) {
  return {
    field,
    type: 'quantitative' as const,
    title,
    ...(empty ? { scale: { domain: [0, 1] } } : {}),
  };
}

/** One colour per series, in the order given, so a system keeps its colour in every plot. */
export function seriesColor(field: string, names: readonly string[]) {
  return {
    field,
    type: 'nominal' as const,
    scale: { domain: [...new Set(names)] },
    legend: { title: null },
  };
}

/**
 * Compiles a vega-lite spec and renders it to an SVG string, headless: the `none` renderer
 * needs no canvas (text widths are estimated, which only affects layout slightly).
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vegaSpec } = compile(spec, { config: baseConfig });
  const view = new View(parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
