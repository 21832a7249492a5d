import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { KeyChooser } from '../../loadgen/key-chooser.js';
import { runLoad } from '../../loadgen/load-generator.js';
import type { LoadTarget } from '../../loadgen/load-target.js';

/** A target that answers after `delayMs` and fails every `failEvery`-th write. */
function fakeTarget(delayMs: number, failEvery = 0) {
  let writes = 0;
  let reads = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const answer = async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await sleep(delayMs);
    inFlight--;
  };
  const target: LoadTarget = {
    name: 'fake',
    put: async () => {
      writes++;
      await answer();
      if (failEvery > 0 && writes % failEvery === 0) {
        throw Object.assign(new Error('nope'), { status: 503 });
      }
    },
    get: async () => {
      reads++;
      await answer();
      return null;
    },
    close: async () => {},
  };
  return { target, counts: () => ({ writes, reads, maxInFlight }) };
}

const base = {
  readRatio: 0,
  consistency: 'linearizable' as const,
  keySpace: 100,
  keyDistribution: 'uniform' as const,
  valueSize: 10,
  warmupSec: 0,
  seed: 1,
};

describe('load generator', () => {
  it('closed loop: keeps exactly `clients` in flight, counts errors by kind, stops at --total', async () => {
    const { target, counts } = fakeTarget(2, 10);
    const result = await runLoad({ ...base, target, clients: 8, total: 400 });
    expect(counts().maxInFlight).toBe(8);
    expect(result.ops + (result.errors['status 503'] ?? 0)).toBeGreaterThanOrEqual(400);
    expect(result.errors['status 503']).toBeGreaterThan(30);
  });

  it('mixes reads and writes by --read-ratio', async () => {
    const { target, counts } = fakeTarget(0);
    await runLoad({ ...base, target, clients: 4, total: 2_000, readRatio: 0.9 });
    const { reads, writes } = counts();
    expect(reads / (reads + writes)).toBeGreaterThan(0.85);
    expect(reads / (reads + writes)).toBeLessThan(0.95);
  });

  it('open loop: measures from the intended send time, so a stall shows in the latencies', async () => {
    // 100 ops/s offered, but each takes at least 50 ms and only 2 may be in flight: at most
    // 40 ops/s served (one-sided bounds: a slower machine only makes them hold more).
    const { target } = fakeTarget(50);
    const result = await runLoad({ ...base, target, clients: 2, rate: 100, durationSec: 1.5 });
    expect(result.throughput).toBeLessThan(60);
    expect(result.latency.max).toBeGreaterThan(200); // queued behind the stall, not hidden
  });

  it('zipf keys are skewed toward the first keys; uniform ones are not', () => {
    const count = (chooser: KeyChooser) => {
      let hot = 0;
      for (let i = 0; i < 10_000; i++) if (chooser.next() === 'key-0') hot++;
      return hot;
    };
    expect(count(new KeyChooser(1_000, 'zipf', new SeededRandom(1)))).toBeGreaterThan(800);
    expect(count(new KeyChooser(1_000, 'uniform', new SeededRandom(1)))).toBeLessThan(30);
  });
});
