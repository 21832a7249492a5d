import { describe, expect, it } from 'vitest';
import { runSeed, seedCount, seedsToRun } from './fixtures/seeds.js';
import { keysOf } from '../../sim/linearizability/kv-model.js';
import { submitAndWait } from '../../sim/verify-run.js';
import type { ZabCluster } from '../../sim/zab-cluster.js';
import { RANDOM_WORKLOAD, RandomScenario } from '../../sim/zab-workload.js';

const FILE = 'test/sim/quota.test.ts';
/** Six keys of 2 bytes (and tagged ones of 6) with values of 5 to 9 bytes: the quota bites. */
const QUOTA_BYTES = 40;

/**
 * Leaves room for the final write of every run: heals, lets what was in flight end, then
 * deletes every key the clients used (a delete is never refused by the quota).
 */
function emptyTheGroup(cluster: ZabCluster): void {
  cluster.healAll();
  cluster.sim.runFor(3_000);
  for (const key of new Set(cluster.history.flatMap((op) => keysOf(op.input)))) {
    for (let attempt = 0; ; attempt++) {
      expect(attempt, `deleting ${key}`).toBeLessThan(100);
      const node = cluster.leader() ?? cluster.ids[attempt % cluster.ids.length]!;
      const outcome = submitAndWait(cluster, node, { op: 'delete', key });
      if (outcome?.status === 204 || outcome?.status === 404) break;
      cluster.sim.runFor(100);
    }
  }
}

describe('a group at its quota under random faults', () => {
  it('answers 507 to growing writes, which the checker treats as not having happened', () => {
    let overQuota = 0;
    let ok = 0;
    const seeds = seedsToRun(seedCount(30), 9_000_000);
    for (const seed of seeds) {
      runSeed(seed, FILE, () => {
        const scenario = new RandomScenario(
          seed,
          3,
          { ...RANDOM_WORKLOAD, beforeVerify: emptyTheGroup },
          { replica: { quotaBytes: QUOTA_BYTES } },
        );
        const result = scenario.run();
        expect(result.verdict, `seed ${seed}: ${result.faults.join(' ')}`).toBe('ok');
        for (const id of scenario.cluster.ids) {
          const machine = scenario.cluster.replica(id)?.durableState.machine;
          // Only the final write is left: the deletes gave back every byte.
          if (machine !== undefined) expect(machine.bytes).toBeLessThanOrEqual(QUOTA_BYTES);
        }
        overQuota += result.counts.overQuota;
        ok += result.counts.ok;
      });
    }
    if (seeds.length >= 10) {
      // Over many seeds the quota did bite, and most writes still went through.
      expect(overQuota).toBeGreaterThan(0);
      expect(ok).toBeGreaterThan(overQuota);
    }
  });
});
