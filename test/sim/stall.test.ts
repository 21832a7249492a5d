/**
 * A deposed leader that has not noticed yet (ZOOKEEPER-1675's window): a leader whose process
 * stalls (SIGSTOP, a long GC pause) or whose clock runs slow keeps believing it leads after
 * its followers gave it up and elected another. Whatever it is asked meanwhile, it must not
 * answer a linearizable read from its own, stale state: the read barrier (a quorum round,
 * replica/leader-reads.ts) is what stops it. Each scenario first proves the window was open
 * (a newer leader committed a write while the old one still led), then that no read was
 * served stale, and ends with the linearizability verdict.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../components/network/node-id.js';
import type { KvOutcome } from '../../kv/kv-operation.js';
import { ScriptedRun } from '../../sim/scripted-run.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';

const FILE = 'test/sim/stall.test.ts';

function eachSeed(count: number, first: number, body: (seed: number) => void): void {
  for (const seed of seedsToRun(count, first)) runSeed(seed, FILE, body);
}

/** A group with a leader that committed `k = old`, every follower synced. */
function establish(seed: number, size: number) {
  const run = new ScriptedRun({ seed, size });
  const old = run.awaitLeader();
  expect(run.put(old, 'k', 'old')).toMatchObject({ status: 200 });
  for (const id of run.cluster.ids) run.awaitServing(id);
  return { run, cluster: run.cluster, sim: run.sim, old };
}

/** Submits `count` linearizable reads of `k` at `node` now; their outcomes land in the list. */
function readsAt(run: ScriptedRun, node: NodeId, count: number): (KvOutcome | undefined)[] {
  const outcomes: (KvOutcome | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    run.cluster.submit(node, run.cluster.newClientId(), { op: 'get', key: 'k' }, (outcome) =>
      outcomes.push(outcome),
    );
  }
  return outcomes;
}

/** None of the reads returned the value the new leader had already overwritten. */
function expectNoneStale(outcomes: readonly (KvOutcome | undefined)[]): void {
  for (const outcome of outcomes) {
    if (outcome?.status === 200) expect(new TextDecoder().decode(outcome.value)).toBe('new');
    else expect([503, 504]).toContain(outcome?.status);
  }
}

/** The old leader still leads and serves in an older epoch than the established new one. */
function stillLeads(run: ScriptedRun, old: NodeId, next: NodeId): boolean {
  const stale = run.cluster.replica(old)!;
  const fresh = run.cluster.replica(next)!;
  return (
    stale.roleName === 'leading' &&
    stale.serving &&
    stale.durableState.currentEpoch < fresh.durableState.currentEpoch
  );
}

describe('a deposed leader that has not noticed yet serves no stale read', () => {
  it('a leader stalled past its followers’ syncLimit and cut off resumes with reads queued at it', () => {
    eachSeed(6, 1675_100, (seed) => {
      const { run, sim, old } = establish(seed, seed % 2 === 0 ? 3 : 5);
      // Stalled and cut off (the followers' Close never reaches it): its view of the group
      // freezes while the others move on.
      run.isolate(old);
      sim.stall(old, 3_000);
      const next = run.awaitLeader((id) => id !== old);
      expect(run.put(next, 'k', 'new')).toMatchObject({ status: 200 });
      sim.runFor(5);
      const outcomes = readsAt(run, old, 5);
      expect(sim.runUntil(() => !sim.isStalled(old), 5_000)).toBe(true);
      // It resumed believing it leads (one late tick is not syncLimit), the reads at hand.
      expect(stillLeads(run, old, next)).toBe(true);
      expect(sim.runUntil(() => outcomes.length === 5, 5_000)).toBe(true);
      expectNoneStale(outcomes);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a stalled leader that resumes with its followers’ Close queued steps down before serving', () => {
    eachSeed(4, 1675_200, (seed) => {
      const { run, sim, old } = establish(seed, 3);
      sim.stall(old, 2_000);
      const next = run.awaitLeader((id) => id !== old);
      expect(run.put(next, 'k', 'new')).toMatchObject({ status: 200 });
      sim.runFor(5);
      const outcomes = readsAt(run, old, 3);
      expect(sim.runUntil(() => outcomes.length === 3, 5_000)).toBe(true);
      expectNoneStale(outcomes);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a leader whose ticks run at half speed during a partition', () => {
    eachSeed(6, 1675_300, (seed) => {
      const { run, cluster, sim, old } = establish(seed, seed % 2 === 0 ? 3 : 5);
      run.startClients();
      cluster.setTimerRate(old, 2);
      run.isolate(old);
      const next = run.awaitLeader((id) => id !== old);
      expect(run.put(next, 'k', 'new')).toMatchObject({ status: 200 });
      sim.runFor(5);
      // Its followers gave it up after syncLimit of their ticks; it counts in ticks twice as long.
      expect(stillLeads(run, old, next)).toBe(true);
      const outcomes = readsAt(run, old, 3);
      expect(sim.runUntil(() => outcomes.length === 3, 5_000)).toBe(true);
      expectNoneStale(outcomes);
      expect(run.finish()).toBe('ok');
    });
  });
});
