/**
 * A range or prefix delete from a peer is checked like any peer input: it names its group, and
 * is run only by a member of that group, only when the message was sent to that group, and only
 * within the limits HTTP enforces.
 */
import { describe, expect, it } from 'vitest';
import { MAX_LIST_LIMIT_COUNT } from '../../components/limits.js';
import { ROUTE_HOP } from '../../kv/forwarding-messages.js';
import { encodeOperation, type KvOperation } from '../../kv/kv-operation.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';
import { readRange } from '../../state/range-reads.js';
import { Forger } from '../sim/fixtures/forger.js';

describe('Overlay peer input: ranges and prefix deletes', () => {
  it('runs a prefix delete nowhere when it names another group than the one it was sent to', () => {
    const cluster = new PartitionedCluster(12_400, 6, 3);
    const { sim } = cluster;
    expect(sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
    const forger = new Forger(sim);
    for (let i = 0; i < 20; i++) {
      const put: KvOperation = { op: 'put', key: `x/${i}`, value: new Uint8Array([1]) };
      expect(cluster.call(cluster.ids[0]!, put)?.status).toBe(200);
    }
    const held = () =>
      cluster.table.groups.reduce((sum, g) => {
        const machine = cluster.host(cluster.leaderOf(g.id)!)!.replica.durableState.machine;
        const all = { prefix: 'x/', after: null, limit: 100, maxBytes: 1 << 20, keysOnly: true };
        return sum + readRange(machine, all).items.length;
      }, 0);
    expect(held()).toBe(20);
    const [a, b] = cluster.table.groups;
    const outsider = b!.members[0]!;
    const payload = (operation: KvOperation) => ({
      hop: ROUTE_HOP as typeof ROUTE_HOP,
      group: a!.id,
      requestId: 91,
      payload: encodeOperation(operation),
    });
    // Sent to group a's member, but naming group b: a stale or hostile sender.
    const wrong: KvOperation = { op: 'deleteRange', group: b!.id, prefix: 'x/', limit: 100 };
    forger.send('kv.Request', a!.members[0]!, payload(wrong), outsider);
    // Beyond the limits: refused and counted.
    const huge: KvOperation = {
      op: 'range',
      group: a!.id,
      prefix: 'x/',
      after: null,
      limit: MAX_LIST_LIMIT_COUNT + 1,
      maxBytes: 1024,
      keysOnly: true,
      consistency: 'linearizable',
    };
    forger.send('kv.Request', a!.members[0]!, payload(huge), outsider);
    sim.runFor(1_000);
    expect(held()).toBe(20);
    const overLimits = cluster.ids.reduce(
      (sum, id) => sum + (cluster.host(id)?.overlay.rejected['over-limits'] ?? 0),
      0,
    );
    expect(overLimits).toBe(1);
    // The real thing, through the overlay, deletes them.
    for (const g of cluster.table.groups) {
      const batch: KvOperation = { op: 'deleteRange', group: g.id, prefix: 'x/', limit: 100 };
      expect(cluster.call(cluster.ids[3]!, batch)?.status).toBe(200);
    }
    expect(held()).toBe(0);
  });
});
