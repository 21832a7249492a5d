import { describe, expect, it } from 'vitest';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { SimulationFailure, type Simulator } from '../../components/sim/index.js';
import { fdCluster } from './fixtures/fd-cluster.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';

const FILE = 'test/sim/determinism.test.ts';

/** Crashes, restarts, partitions, loss and heals, all drawn from the simulator's seed. */
function injectFaults(sim: Simulator, ids: readonly NodeId[], untilMs: number): void {
  const nemesis = sim.random.fork('nemesis');
  const step = (): void => {
    if (sim.now >= untilMs) return;
    const victim = nemesis.pick(ids);
    switch (nemesis.int(0, 4)) {
      case 0:
        sim.crash(victim);
        break;
      case 1:
        sim.restart(victim);
        break;
      case 2: {
        const cut = nemesis.int(1, ids.length - 1);
        sim.fabric.partition([ids.slice(0, cut), ids.slice(cut)]);
        break;
      }
      case 3:
        sim.fabric.block(victim, nemesis.pick(ids));
        break;
      case 4:
        sim.fabric.heal();
        sim.fabric.model = { ...sim.fabric.model, lossRate: nemesis.pick([0, 0.05, 0.2]) };
        break;
    }
    sim.after(nemesis.int(50, 1_000), step);
  };
  sim.after(100, step);
}

function busyFaultyRun(seed: number) {
  const link = { minLatencyMs: 1, maxLatencyMs: 40, lossRate: 0.02 };
  const cluster = fdCluster({ seed, nodes: 5, link, chatter: true });
  injectFaults(cluster.sim, cluster.ids, 15_000);
  cluster.sim.runFor(20_000);
  return cluster;
}

describe('deterministic simulation', () => {
  it('the same seed gives the same trace, byte for byte', () => {
    for (const seed of seedsToRun(3, 42)) {
      runSeed(seed, FILE, () => {
        const first = busyFaultyRun(seed);
        const second = busyFaultyRun(seed);
        // The run really was busy and faulty.
        expect(first.sim.trace.lines).toBeGreaterThan(20_000);
        expect(first.sim.fabric.stats.lost + first.sim.fabric.stats.blocked).toBeGreaterThan(100);
        expect(first.sim.trace.lines).toBe(second.sim.trace.lines);
        expect(first.sim.trace.digest()).toBe(second.sim.trace.digest());
        expect(first.sim.fabric.stats).toEqual(second.sim.fabric.stats);
        expect(first.events).toEqual(second.events);
      });
    }
  });

  it('different seeds give different traces', () => {
    expect(busyFaultyRun(1).sim.trace.digest()).not.toBe(busyFaultyRun(2).sim.trace.digest());
  });

  it('a fault in a simulated node stops the run with its seed, and the seed replays it exactly', () => {
    const failing = (seed: number) => {
      const { sim, ids } = fdCluster({ seed, nodes: 3, chatter: true, failAfterReceived: 500 });
      injectFaults(sim, ids, 5_000);
      try {
        sim.runFor(60_000);
      } catch (error) {
        return { error, at: sim.now, digest: sim.trace.digest() };
      }
      throw new Error('expected the run to fail');
    };
    const first = failing(9);
    expect(first.error).toBeInstanceOf(SimulationFailure);
    expect((first.error as SimulationFailure).message).toContain('SEED=9');
    expect((first.error as SimulationFailure).message).toContain('told to fail');
    const replay = failing(9);
    expect(replay.at).toBe(first.at);
    expect(replay.digest).toBe(first.digest);
  });

  it('a crashed node loses its in-flight messages and its restart is a new incarnation', () => {
    const { sim } = fdCluster({ seed: 5, nodes: 2 });
    sim.runFor(1_000);
    const deliveredBefore = sim.fabric.stats.delivered;
    sim.crash(nodeId(2));
    sim.runFor(1_000);
    expect(sim.fabric.stats.toDeadNode).toBeGreaterThan(0);
    sim.restart(nodeId(2));
    sim.runFor(1_000);
    expect(sim.fabric.stats.delivered).toBeGreaterThan(deliveredBefore);
  });
});
