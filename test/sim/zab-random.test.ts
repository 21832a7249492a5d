import { describe, expect, it } from 'vitest';
import { runSeed, seedCount, seedsToRun, sizesToRun } from './fixtures/seeds.js';
import {
  RANDOM_WORKLOAD,
  RandomScenario,
  countFaults,
  faultsNeverInjected,
} from '../../sim/zab-workload.js';

const FILE = 'test/sim/zab-random.test.ts';

describe('ZAB under random faults: linearizable, converged, live', () => {
  // 200 seeds per size: well under a minute on an idle machine, minutes on a shared one.
  it.each(sizesToRun([3, 5]))(
    '%i replicas',
    (size) => {
      const seeds = seedsToRun(seedCount(200), size * 100_000);
      const faults = new Map<string, number>();
      let deposed = 0;
      for (const seed of seeds) {
        runSeed(seed, FILE, () => {
          const result = new RandomScenario(seed, size, RANDOM_WORKLOAD).run();
          expect(result.verdict, `seed ${seed}: ${result.faults.join(' ')}`).toBe('ok');
          countFaults(result.faults, faults);
          deposed += result.stats.deposedStillLeading;
        });
      }
      if (seeds.length >= 100) {
        // The sweep tests what it claims: every kind of fault happened, and so did the window
        // of a deposed leader that has not noticed yet.
        expect(faultsNeverInjected(faults)).toEqual([]);
        expect(deposed).toBeGreaterThan(0);
      }
    },
    600_000,
  );
});
