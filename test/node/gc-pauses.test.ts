import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSamples } from '../../bench/scale/node-sampler.js';
import { watchGcPauses } from '../../node/gc-pauses.js';

async function longestPause(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('zabkv_gc_pause_max_seconds')!.get();
  return metric.values[0]!.value;
}

describe('the longest GC pause', () => {
  it('is 0 until a collection, then the longest one seen, in seconds', async () => {
    const registry = new Registry();
    const { stop } = watchGcPauses(registry);
    try {
      expect(await longestPause(registry)).toBe(0);
      // Enough short-lived garbage for several young-generation collections.
      let sink = 0;
      for (let i = 0; i < 1_000_000; i++) sink += [i, { i }, `${i}`].length;
      expect(sink).toBe(3_000_000);
      // gc entries reach the observer asynchronously: wait for the first, not a fixed time.
      for (let waited = 0; (await longestPause(registry)) === 0 && waited < 5_000; waited += 10) {
        await sleep(10);
      }
      const pause = await longestPause(registry);
      expect(pause).toBeGreaterThan(0);
      expect(pause).toBeLessThan(5);
      // Each pause is in the histogram too, the longest within its buckets.
      const samples = parseSamples(await registry.metrics());
      const count = samples.get('zabkv_gc_pause_seconds_count')!;
      const sum = samples.get('zabkv_gc_pause_seconds_sum')!;
      expect(count).toBeGreaterThan(0);
      expect(sum).toBeGreaterThanOrEqual(pause);
    } finally {
      stop();
    }
  });
});
