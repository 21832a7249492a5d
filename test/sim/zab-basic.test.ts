import { describe, expect, it } from 'vitest';
import type { KvOutcome } from '../../replica/kv-operation.js';
import { ZabCluster } from './fixtures/zab-cluster.js';

function outcomeOf(
  cluster: ZabCluster,
  run: (done: (o: KvOutcome | undefined) => void) => void,
): KvOutcome | undefined {
  let result: KvOutcome | undefined | 'pending' = 'pending';
  run((o) => (result = o));
  cluster.sim.runUntil(() => result !== 'pending', 10_000);
  expect(result).not.toBe('pending');
  return result as KvOutcome | undefined;
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
