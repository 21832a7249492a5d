/**
 * The x axis of the HDR "latency by percentile" plot: percentile p sits at 1/(1-p) on a log
 * scale, so 90 %, 99 %, 99.9 %, 99.99 % are equally spaced and the tail gets the room. 100 %
 * (the maximum) would be at infinity; it is drawn one decade past the deepest finite point
 * and labelled "max".
 */

export interface PercentileTick {
  readonly value: number;
  readonly label: string;
}

export interface PercentileAxis {
  /** Where percentile `p` (0..100) goes, or null for a value that cannot be placed. */
  readonly x: (percentile: number) => number | null;
  readonly domain: [number, number];
  readonly ticks: PercentileTick[];
}

/** The deepest percentile always labelled (and so always in the domain). */
const MIN_DECADES = 4; // 99.99 %

/**
 * 1/(1-p) for p in percent: 50 → 2, 90 → 10, 99.9 → 1000. 100 - p is rounded to the decimals
 * p was written with, so 99.99 gives 10000 and not 9999.99999999488.
 */
export function percentileToX(percentile: number): number {
  const written = String(percentile);
  const decimals = written.includes('e') ? -1 : (written.split('.')[1] ?? '').length;
  const rest = 100 - percentile;
  return 100 / (decimals < 0 ? rest : Number(rest.toFixed(Math.min(decimals, 100))));
}

function percentLabel(x: number): string {
  return `${Number((100 - 100 / x).toPrecision(10))}%`;
}

/** The axis for a plot whose points have these percentiles. */
export function percentileAxis(percentiles: readonly number[]): PercentileAxis {
  const finite = percentiles.filter((p) => Number.isFinite(p) && p >= 0 && p < 100);
  const hasMax = percentiles.some((p) => p === 100);
  const deepest = Math.max(10 ** MIN_DECADES, ...finite.map(percentileToX));
  const decades = Math.ceil(Math.log10(deepest) - 1e-9);
  const maxX = 10 ** (decades + 1);
  const ticks: PercentileTick[] = [{ value: 2, label: '50%' }];
  for (let k = 1; k <= decades; k++) ticks.push({ value: 10 ** k, label: percentLabel(10 ** k) });
  if (hasMax) ticks.push({ value: maxX, label: 'max' });
  return {
    x: (p) => {
      if (p === 100) return maxX;
      return Number.isFinite(p) && p >= 0 && p < 100 ? percentileToX(p) : null;
    },
    domain: [1, hasMax ? maxX : 10 ** decades],
    ticks,
  };
}

/** A vega expression that labels the axis ticks (`datum.value` → its label). */
export function tickLabelExpr(ticks: readonly PercentileTick[]): string {
  return ticks.reduceRight(
    (otherwise, tick) =>
      `datum.value === ${tick.value} ? ${JSON.stringify(tick.label)} : ${otherwise}`,
    "''",
  );
}
