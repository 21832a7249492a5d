import { join } from 'node:path';
import type { LoadResult } from '../load-generator.js';
import { latencyDistributionSvg } from './latency-distribution.js';
import { throughputTimelineSvg } from './throughput-timeline.js';
import { writeSvg } from './write-svg.js';

/**
 * Writes `<dir>/throughput.svg` (ops/s per second of the measurement) and `<dir>/latency.svg`
 * (latency by percentile) for one load-generator run; returns the two paths.
 */
export async function writeLoadResultSvgs(
  dir: string,
  result: Pick<LoadResult, 'target' | 'timeline' | 'distribution'>,
  description: string,
): Promise<[throughput: string, latency: string]> {
  const throughput = join(dir, 'throughput.svg');
  const latency = join(dir, 'latency.svg');
  const [throughputSvg, latencySvg] = await Promise.all([
    throughputTimelineSvg([{ name: result.target, timeline: result.timeline }], {
      title: `Throughput: ${description}`,
    }),
    latencyDistributionSvg([{ name: result.target, distribution: result.distribution }], {
      title: `Latency by percentile: ${description}`,
    }),
  ]);
  await writeSvg(throughput, throughputSvg);
  await writeSvg(latency, latencySvg);
  return [throughput, latency];
}
