import { describe, expect, it } from 'vitest';
import { runSim } from '../../experiment/run-sim.js';
import { parseScenario } from '../../experiment/scenario.js';

const scenario = parseScenario(`
name: short failover
cluster: { nodes: 6, replication: 3 }
workload: { clients: 6, readRatio: 0.5, keys: 8, duration: 4s }
timeline:
  - { at: 1s, action: kill, leaderOf: 0 }
  - { at: 2s, action: isolate, leaderOf: 1, for: 1s }
  - { at: 3s, action: restart }
`);

describe('a scenario in the simulator', () => {
  it('carries out the timeline, keeps both groups serving and checks the history', () => {
    const result = runSim(scenario, 3);
    expect(result.actions.map((a) => [a.atMs, a.failed])).toEqual([
      [1000, undefined],
      [2000, undefined],
      [3000, undefined],
    ]);
    expect(result.linearizability.verdict).toBe('ok');
    for (const g of result.groups) {
      expect(result.perSecond[g]!.ok.at(-1)).toBeGreaterThan(0);
    }
    // The same seed gives the same run.
    expect(runSim(scenario, 3).counts).toEqual(result.counts);
  });
});
