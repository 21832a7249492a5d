/**
 * Full disks in simulation (issue 11 item 5, security.md S4). A store below its free-space
 * reserve says so (SpaceLow); a full one fails its flush (WriteFailed) and rolls back. The
 * global invariants hold throughout (no ACK before durable, identical committed prefixes),
 * every run ends with heal, a final write, convergence and a linearizability check, so
 * "nothing acknowledged is lost" is checked on every history; 507 counts as "did not happen".
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../components/network/node-id.js';
import type { KvOutcome } from '../../kv/kv-operation.js';
import { ScriptedRun } from '../../sim/scripted-run.js';
import { submitAndWait } from '../../sim/verify-run.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';

const FILE = 'test/sim/disk-full.test.ts';

function others(run: ScriptedRun, id: NodeId): NodeId[] {
  return run.cluster.ids.filter((x) => x !== id);
}

/** Puts through `node` until one is answered (not lost to a role change); its outcome. */
function settledPut(run: ScriptedRun, node: NodeId, key: string): KvOutcome | undefined {
  let outcome: KvOutcome | undefined;
  for (let i = 0; i < 20; i++) {
    outcome = run.put(node, key, `${key}-${i}`);
    if (outcome?.status === 200 || outcome?.status === 507) return outcome;
    run.sim.runFor(100);
  }
  return outcome;
}

describe('full disks in simulation', () => {
  it('below the reserve: puts get 507 (no quorum with room), reads and deletes go on; a low leader hands over', () => {
    for (const seed of seedsToRun(4, 507_00)) {
      runSeed(seed, FILE, (s) => {
        const run = new ScriptedRun({ seed: s, size: 3 });
        const { cluster, sim } = run;
        const leader = run.awaitLeader();
        const [a, b] = others(run, leader) as [NodeId, NodeId];
        run.writes(leader, 3, 'k');
        const disk = (id: NodeId) => cluster.disks.get(id)!;

        // The leader low, both followers with room: it refuses at once, then one of them leads
        // (it refused every write until an operator freed space).
        disk(leader).low = true;
        sim.runFor(10);
        expect(run.put(leader, 'k0', 'refused')).toMatchObject({ status: 507 });
        const next = run.awaitLeader((id) => id !== leader);
        expect(settledPut(run, next, 'k0')).toMatchObject({ status: 200 });
        expect(submitAndWait(cluster, a, { op: 'get', key: 'k1' })).toMatchObject({ status: 200 });
        expect(submitAndWait(cluster, leader, { op: 'delete', key: 'k2' })?.status).toBe(204);
        disk(leader).low = false;
        run.awaitServing(leader);

        // Every node low but one: no quorum has room, and nobody hands over.
        disk(a).low = true;
        disk(b).low = true;
        sim.runFor(300);
        expect(settledPut(run, next, 'k0')).toMatchObject({ status: 507 });
        expect(cluster.leader()).toBe(next);
        disk(a).low = false;
        disk(b).low = false;
        sim.runFor(300);

        // One follower low: the leader and the other follower are a quorum with room.
        const current = cluster.leader()!;
        const [fa, fb] = others(run, current) as [NodeId, NodeId];
        disk(fa).low = true;
        sim.runFor(300); // a ping round: the leader hears of it in a Pong
        expect(settledPut(run, fb, 'k0')).toMatchObject({ status: 200 });
        // Both followers low: no quorum has room.
        disk(fb).low = true;
        sim.runFor(300);
        expect(settledPut(run, current, 'k0')).toMatchObject({ status: 507 });
        expect(submitAndWait(cluster, fb, { op: 'get', key: 'k0' })).toMatchObject({ status: 200 });
        disk(fa).low = false;
        sim.runFor(300);
        expect(settledPut(run, fb, 'k0')).toMatchObject({ status: 200 });
        expect(run.finish()).toBe('ok');
      });
    }
  });

  it('with every disk low, a new leader stays: room is what a Pong said, not assumed', () => {
    // Handlers started as having room: each new leader, low itself, handed over at its first
    // tick, before any follower had answered a ping: one election after another.
    for (const seed of seedsToRun(4, 507_50)) {
      runSeed(seed, FILE, (s) => {
        const run = new ScriptedRun({ seed: s, size: 5 });
        const { cluster, sim } = run;
        const leader = run.awaitLeader();
        for (const id of cluster.ids) cluster.disks.get(id)!.low = true;
        sim.runFor(300);
        const before = cluster.leaders.size;
        cluster.crash(leader);
        run.awaitLeader((id) => id !== leader);
        sim.runFor(3_000);
        expect(cluster.leaders.size - before).toBe(1);
        for (const id of cluster.ids) cluster.disks.get(id)!.low = false;
        cluster.restart(leader);
        expect(run.finish()).toBe('ok');
      });
    }
  });

  it('a disk that fills mid-run fails its flushes cleanly: no ACK before durable, nothing acknowledged lost, writes resume', () => {
    let failedFlushes = 0;
    for (const seed of seedsToRun(Number(process.env['SEEDS'] ?? 24), 508_00)) {
      runSeed(seed, FILE, (s) => {
        const run = new ScriptedRun({ seed: s, size: seed % 4 === 0 ? 5 : 3 }, 6);
        const { cluster, sim } = run;
        const random = sim.random.fork('disk-full');
        const leader = run.awaitLeader();
        run.startClients();
        sim.runFor(random.int(100, 600));
        // The leader's disk, a follower's, or both, fill up while clients write.
        const victims =
          seed % 3 === 0
            ? [leader]
            : seed % 3 === 1
              ? [random.pick(others(run, leader))]
              : [leader, random.pick(others(run, leader))];
        for (const id of victims) cluster.disks.get(id)!.full = true;
        sim.runFor(random.int(300, 1_500));
        for (const id of victims) cluster.disks.get(id)!.full = false;
        sim.runFor(random.int(200, 1_000));
        run.stopClients();
        for (const id of victims) {
          failedFlushes += cluster.disks.get(id)!.stats.failedFlushes;
          run.awaitServing(id, 20_000); // back without a restart
        }
        expect(run.finish()).toBe('ok');
      });
    }
    expect(failedFlushes).toBeGreaterThan(0);
  });

  it('a leader whose flush fails answers what it proposed 504 and steps down; the group goes on', () => {
    for (const seed of seedsToRun(4, 509_00)) {
      runSeed(seed, FILE, (s) => {
        const run = new ScriptedRun({ seed: s, size: 3 });
        const { cluster, sim } = run;
        const leader = run.awaitLeader();
        run.writes(leader, 2, 'k');
        cluster.disks.get(leader)!.full = true;
        const outcome = run.put(leader, 'k0', 'during');
        // Proposed before its own flush failed: it may commit elsewhere.
        expect([504, 200]).toContain(outcome?.status);
        expect(cluster.disks.get(leader)!.stats.failedFlushes).toBeGreaterThan(0);
        const next = run.awaitLeader((id) => id !== leader);
        expect(run.put(next, 'k1', 'after')).toMatchObject({ status: 200 });
        // Stale reads are still answered by the node with the full disk.
        const stale = submitAndWait(cluster, leader, {
          op: 'get',
          key: 'k1',
          consistency: 'stale',
        });
        expect([200, 404]).toContain(stale?.status);
        cluster.disks.get(leader)!.full = false;
        run.awaitServing(leader, 20_000);
        expect(sim.isUp(leader)).toBe(true);
        expect(run.finish()).toBe('ok');
      });
    }
  });
});
