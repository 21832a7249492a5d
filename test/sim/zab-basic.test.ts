import { describe, expect, it } from 'vitest';
import type { KvOutcome } from '../../kv/kv-operation.js';
import { ZabCluster } from '../../sim/zab-cluster.js';

function outcomeOf(
  cluster: ZabCluster,
  run: (done: (o: KvOutcome | undefined) => void) => void,
): KvOutcome | undefined {
  const result: { outcome?: KvOutcome | undefined; done: boolean } = { done: false };
  run((outcome) => Object.assign(result, { outcome, done: true }));
  expect(cluster.sim.runUntil(() => result.done, 10_000)).toBe(true);
  return result.outcome;
}

describe('ZAB group, no faults', () => {
  it('elects one leader and serves writes and linearizable reads through every node', () => {
    const cluster = new ZabCluster({ seed: 1, size: 3 });
    expect(cluster.sim.runUntil(() => cluster.leader() !== null, 5_000)).toBe(true);
    const leader = cluster.leader()!;
    const follower = cluster.ids.find((id) => id !== leader)!;
    const put = outcomeOf(cluster, (done) =>
      cluster.submit(follower, 1, { op: 'put', key: 'k', value: 'v1' }, done),
    );
    expect(put?.status).toBe(200);
    for (const node of cluster.ids) {
      const get = outcomeOf(cluster, (done) =>
        cluster.submit(node, 1, { op: 'get', key: 'k' }, done),
      );
      expect(get).toMatchObject({ status: 200, version: (put as { version: number }).version });
    }
    expect(cluster.awaitConverged(cluster.lastCommitted, 2_000)).toBe(true);
    expect(new Set(cluster.digests().values()).size).toBe(1);
  });
});

describe('ZAB group, leader crash', () => {
  it('followers learn of a crashed leader from the closed connection, before syncLimit runs out', () => {
    const cluster = new ZabCluster({ seed: 5, size: 3 });
    expect(cluster.sim.runUntil(() => cluster.leader() !== null, 5_000)).toBe(true);
    cluster.sim.runFor(500);
    const old = cluster.leader()!;
    const crashedAt = cluster.sim.now;
    cluster.crash(old);
    expect(cluster.sim.runUntil(() => cluster.leader() !== null, 5_000)).toBe(true);
    // syncLimit is 5 ticks of 50 ms in simulation: silence alone would take longer.
    expect(cluster.sim.now - crashedAt).toBeLessThan(250);
  });
});
