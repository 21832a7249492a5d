import { describe, expect, it } from 'vitest';
import { runSeed, seedsToRun } from './fixtures/seeds.js';
import { RANDOM_WORKLOAD, RandomScenario } from '../../sim/zab-workload.js';

const FILE = 'test/sim/zab-random.test.ts';

describe('ZAB under random faults: linearizable, converged, live', () => {
  const only = process.env['SIZE'];
  it.each([3, 5].filter((size) => only === undefined || Number(only) === size))(
    '%i replicas, 200 seeds',
    (size) => {
      for (const seed of seedsToRun(Number(process.env['SEEDS'] ?? 200), size * 100_000)) {
        runSeed(seed, FILE, () => {
          const result = new RandomScenario(seed, size, RANDOM_WORKLOAD).run();
          expect(result.verdict, `seed ${seed}: ${result.faults.join(' ')}`).toBe('ok');
        });
      }
    },
  );
});
