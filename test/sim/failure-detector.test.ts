import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { fdCluster, HEARTBEAT_MS } from './fixtures/fd-cluster.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';

const FILE = 'test/sim/failure-detector.test.ts';
const n = nodeId;

describe('eventually perfect failure detector, simulated', () => {
  it('suspects nobody when every node is up and links are fast', () => {
    const { sim, events } = fdCluster({ seed: 1, nodes: 5 });
    sim.runFor(30_000);
    expect(events).toEqual([]);
  });

  it('every live node suspects a crashed node, and only it, within a bounded time', () => {
    for (const seed of seedsToRun(5)) {
      runSeed(seed, FILE, () => {
        const { sim, ids, suspicions, events } = fdCluster({ seed, nodes: 5 });
        sim.runFor(2_000);
        sim.crash(n(3));
        const crashedAt = sim.now;
        const expected = ids.filter((id) => id !== 3).map((id) => `${id}>3`);
        expect(sim.runUntil(() => suspicions().join() === expected.join(), 10 * HEARTBEAT_MS)).toBe(
          true,
        );
        expect(events.every((e) => e.event.kind === 'Suspect' && e.event.peer === 3)).toBe(true);
        expect(Math.max(...events.map((e) => e.at)) - crashedAt).toBeLessThanOrEqual(
          6 * HEARTBEAT_MS,
        );
        // ... and it stays that way.
        sim.runFor(20_000);
        expect(suspicions()).toEqual(expected);
      });
    }
  });

  it('a restarted node is restored with a longer timeout', () => {
    const { sim, suspicions, events, host } = fdCluster({ seed: 7, nodes: 3 });
    sim.runFor(1_000);
    sim.crash(n(2));
    sim.runUntil(() => suspicions().length === 2, 5_000);
    sim.restart(n(2));
    expect(sim.runUntil(() => suspicions().length === 0, 5_000)).toBe(true);
    expect(
      events
        .filter((e) => e.event.kind === 'Restore')
        .map((e) => `${e.node}>${e.event.peer}`)
        .sort(),
    ).toEqual(['1>2', '3>2']);
    // The restarted node's own detector is new and suspects nobody.
    expect(host(n(2)).suspects()).toEqual([]);
  });

  it('a partition makes each side suspect the other; healing restores everyone', () => {
    for (const seed of seedsToRun(5, 100)) {
      runSeed(seed, FILE, () => {
        const { sim, suspicions, events } = fdCluster({ seed, nodes: 5 });
        sim.runFor(1_000);
        sim.fabric.partition([
          [n(1), n(2)],
          [n(3), n(4), n(5)],
        ]);
        const across = [
          '1>3',
          '1>4',
          '1>5',
          '2>3',
          '2>4',
          '2>5',
          '3>1',
          '3>2',
          '4>1',
          '4>2',
          '5>1',
          '5>2',
        ];
        expect(sim.runUntil(() => suspicions().join() === across.join(), 2_000)).toBe(true);
        sim.fabric.heal();
        expect(sim.runUntil(() => suspicions().length === 0, 2_000)).toBe(true);
        expect(events.filter((e) => e.event.kind === 'Restore')).toHaveLength(across.length);
        sim.runFor(20_000);
        expect(suspicions()).toEqual([]);
      });
    }
  });

  it('an asymmetric cut is seen only by the side that stops hearing', () => {
    const { sim, suspicions } = fdCluster({ seed: 3, nodes: 3 });
    sim.runFor(1_000);
    sim.fabric.block(n(1), n(2));
    expect(sim.runUntil(() => suspicions().length > 0, 2_000)).toBe(true);
    sim.runFor(2_000);
    expect(suspicions()).toEqual(['2>1']);
  });

  it('is eventually accurate when links are slower than the first timeout', () => {
    for (const seed of seedsToRun(5, 200)) {
      runSeed(seed, FILE, () => {
        // Arrival gaps reach (max - min latency) + one period = about 8 heartbeat periods,
        // against a first timeout of 3. Every false suspicion adds 2, so a pair can be falsely
        // suspected at most 3 times (timeouts 3, 5, 7) before its timeout covers every gap.
        const link = { minLatencyMs: 10, maxLatencyMs: 6 * HEARTBEAT_MS, lossRate: 0 };
        const { sim, events, suspicions } = fdCluster({ seed, nodes: 4, link });
        sim.runFor(600_000);
        const suspects = events.filter((e) => e.event.kind === 'Suspect');
        expect(suspects.length).toBeGreaterThan(0);
        const perPair = new Map<string, number>();
        for (const e of suspects) {
          const pair = `${e.node}>${e.event.peer}`;
          perPair.set(pair, (perPair.get(pair) ?? 0) + 1);
        }
        expect(Math.max(...perPair.values())).toBeLessThanOrEqual(3);
        expect(events.filter((e) => e.event.kind === 'Restore')).toHaveLength(suspects.length);
        expect(suspicions()).toEqual([]);
      });
    }
  });
});
