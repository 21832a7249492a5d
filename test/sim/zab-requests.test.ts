import { describe, expect, it } from 'vitest';
import type { MessageOf } from '../../components/network/network-port.js';
import type { NodeId } from '../../components/network/node-id.js';
import type { KvOutcome } from '../../kv/kv-operation.js';
import { ScriptedRun } from '../../sim/scripted-run.js';
import { submitAndWait } from '../../sim/verify-run.js';
import { decodeLogEntry } from '../../replica/log-entry.js';

function others(run: ScriptedRun, id: NodeId): NodeId[] {
  return run.cluster.ids.filter((x) => x !== id);
}

/** A 3-replica run with an established leader and one of its followers serving. */
function withServingFollower(seed: number) {
  const run = new ScriptedRun({ seed, size: 3 });
  const leader = run.awaitLeader();
  const follower = others(run, leader)[0]!;
  run.awaitServing(follower);
  return { run, cluster: run.cluster, sim: run.sim, leader, follower };
}

/** The messages delivered while `act` runs, counted by kind. */
function deliveredDuring(run: ScriptedRun, act: () => void): Map<string, number> {
  const delivered = new Map<string, number>();
  run.sim.fabric.onArrival = (message) => {
    delivered.set(message.kind, (delivered.get(message.kind) ?? 0) + 1);
    return true;
  };
  try {
    act();
  } finally {
    run.sim.fabric.onArrival = undefined;
  }
  return delivered;
}

describe('ZAB request path', () => {
  it('a second answer to one request, or an answer never asked for, fails the run with its seed', () => {
    const run = new ScriptedRun({ seed: 19, size: 3 });
    const { recorder } = run.cluster;
    const leader = run.awaitLeader();
    const asked = recorder.begin(leader, recorder.newClientId(), { op: 'get', key: 'k' }, () => {});
    recorder.finish(asked, { status: 404 });
    expect(() => recorder.finish(asked, { status: 504, reason: 'timed out' })).toThrow(
      /request \d+ answered twice: 404 at \d+ \(asked at node \d\), then 504 at \d+ \(ZABKV_SEED=19\)/,
    );
    expect(() => recorder.finish(asked + 100, { status: 404 })).toThrow(
      /never asked.*ZABKV_SEED=19/,
    );
    // An answer that comes after the run gave the request up is late, not double.
    const late = recorder.begin(leader, recorder.newClientId(), { op: 'get', key: 'k' }, () => {});
    recorder.abandon();
    expect(() => recorder.finish(late, { status: 404 })).not.toThrow();
  });

  it('a write at a follower is forwarded to the leader and answered where it came in', () => {
    const { run, follower } = withServingFollower(11);
    let put: KvOutcome | undefined;
    const delivered = deliveredDuring(run, () => (put = run.put(follower, 'k', 'v')));
    expect(put).toMatchObject({ status: 200 });
    // The follower answers when it applies the entry: no response travels back for it.
    expect(delivered.get('kv.Request')).toBeGreaterThan(0);
    expect(delivered.has('kv.Response')).toBe(false);
    const read = submitAndWait(run.cluster, follower, { op: 'get', key: 'k' });
    expect(read).toMatchObject({ status: 200, version: (put as { version: number }).version });
    expect(run.finish()).toBe('ok');
  });

  it('a stale read is served locally and may lag; a linearizable read at a cut-off node never is', () => {
    const run = new ScriptedRun({ seed: 12, size: 3 });
    const { cluster, sim } = run;
    const leader = run.awaitLeader();
    const cut = others(run, leader)[0]!;
    const first = run.put(leader, 'k', 'old');
    run.awaitServing(cut);
    run.isolate(cut);
    run.put(leader, 'k', 'new');
    const stale: { outcome?: KvOutcome } = {};
    cluster.submit(
      cut,
      cluster.newClientId(),
      { op: 'get', key: 'k', consistency: 'stale' },
      (o) => {
        if (o !== undefined) stale.outcome = o;
      },
    );
    sim.runUntil(() => stale.outcome !== undefined, 1_000);
    expect(stale.outcome).toMatchObject({
      status: 200,
      version: (first as { version: number }).version,
    });
    const linearizable = submitAndWait(cluster, cut, { op: 'get', key: 'k' });
    expect([503, 504]).toContain(linearizable?.status);
    expect(run.finish()).toBe('ok');
  });

  it('answers 503 at once when no leader is known: the operation did not happen', () => {
    const run = new ScriptedRun({ seed: 13, size: 3 });
    const { cluster } = run;
    run.awaitLeader();
    const [alone, ...rest] = cluster.ids as [NodeId, ...NodeId[]];
    for (const id of rest) cluster.crash(id);
    run.sim.runUntil(() => cluster.replica(alone)!.roleName === 'looking', 2_000);
    const put = submitAndWait(cluster, alone, { op: 'put', key: 'k', value: 'never' });
    expect(put).toMatchObject({ status: 503 });
    for (const id of rest) cluster.restart(id);
    run.awaitLeader();
    expect(submitAndWait(cluster, alone, { op: 'get', key: 'k' })).toMatchObject({ status: 404 });
    expect(run.finish()).toBe('ok');
  });

  it('answers 504 when a forwarded write may have happened: the leader died after proposing it', () => {
    const run = new ScriptedRun({ seed: 14, size: 3 });
    const { cluster, sim } = run;
    const leader = run.awaitLeader();
    const follower = others(run, leader)[0]!;
    // The leader dies the moment its proposal arrives: it was proposed, never committed.
    sim.fabric.onArrival = (message) => {
      if (message.kind !== 'zab.Proposal') return true;
      sim.after(0, () => cluster.crash(leader));
      return true;
    };
    const put = submitAndWait(cluster, follower, { op: 'put', key: 'k', value: 'maybe' });
    expect(put?.status).toBe(504);
    sim.fabric.onArrival = undefined;
    expect(run.finish()).toBe('ok');
  });

  it('refuses writes beyond the outstanding limit with 503 instead of queueing without bound', () => {
    const run = new ScriptedRun({ seed: 15, size: 3, replica: { maxOutstanding: 4 } });
    const { cluster, sim } = run;
    const leader = run.awaitLeader();
    for (const id of others(run, leader)) sim.fabric.block(id, leader);
    const outcomes: (KvOutcome | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      cluster.submit(
        leader,
        cluster.newClientId(),
        { op: 'put', key: `k${i}`, value: `v${i}` },
        (o) => outcomes.push(o),
      );
    }
    sim.runUntil(() => outcomes.length >= 6, 1_000);
    expect(outcomes.filter((o) => o?.status === 503).length).toBe(6);
    sim.fabric.heal();
    expect(run.finish()).toBe('ok');
  });

  it('snapshots keep the log bounded on every replica, in memory and on disk', () => {
    const run = new ScriptedRun({
      seed: 16,
      size: 3,
      replica: { snapshotEvery: 25, retainEntries: 10 },
    });
    const { cluster } = run;
    const leader = run.awaitLeader();
    run.writes(leader, 300, 'w');
    expect(run.finish()).toBe('ok');
    for (const id of cluster.ids) {
      expect(cluster.replica(id)!.durableState.history.length).toBeLessThanOrEqual(25 + 10 + 5);
      const image = cluster.disks.get(id)!.load();
      expect(image.log.length).toBeLessThanOrEqual(25 + 10 + 5);
      expect(image.snapshot).not.toBeNull();
    }
  });

  it('a group of one replica serves writes and linearizable reads alone', () => {
    const run = new ScriptedRun({ seed: 17, size: 1 }, 2);
    const leader = run.awaitLeaderAlone();
    run.startClients();
    run.sim.runFor(500);
    expect(run.put(leader, 'k', 'v')).toMatchObject({ status: 200 });
    expect(run.finish()).toBe('ok');
  });

  it('linearizable reads at the leader and at followers take a few round trips, never a tick', () => {
    // Links of 1–3 ms: a read needs at most ~4 trips (follower → leader, ping round, answer),
    // plus one round already out. Waiting for the next tick's round (50 ms here) is the bug
    // this guards against: reads that came while the tick's round was out were left behind.
    const run = new ScriptedRun({ seed: 16, size: 3 });
    const { cluster, sim } = run;
    const leader = run.awaitLeader();
    run.put(leader, 'k', 'v');
    const latencies: number[] = [];
    for (let i = 0; i < 300; i++) {
      const node = cluster.ids[i % cluster.ids.length]!;
      run.awaitServing(node);
      sim.runFor(sim.random.int(0, 60));
      const started = sim.now;
      const read = submitAndWait(cluster, node, { op: 'get', key: 'k' });
      expect(read).toMatchObject({ status: 200 });
      latencies.push(sim.now - started);
    }
    expect(Math.max(...latencies)).toBeLessThan(25);
    expect(run.finish()).toBe('ok');
  });

  it('a synced follower serves linearizable reads itself, asking the leader only for its commit point', () => {
    const { run, cluster, follower } = withServingFollower(17);
    const put = run.put(follower, 'k', 'v');
    const sent = deliveredDuring(run, () => {
      for (let i = 0; i < 10; i++) {
        const read = submitAndWait(cluster, follower, { op: 'get', key: 'k' });
        expect(read).toMatchObject({ status: 200, version: (put as { version: number }).version });
      }
    });
    expect(sent.get('kv.Request')).toBeUndefined();
    expect(sent.get('kv.Response')).toBeUndefined();
    expect(sent.get('zab.ReadIndex')).toBe(10);
    expect(sent.get('zab.ReadIndexReply')).toBe(10);
    expect(run.finish()).toBe('ok');
  });

  it('splits a burst of big values into proposals well under the frame limit', () => {
    const { run, cluster, sim, leader, follower } = withServingFollower(18);
    const proposals: { entries: number; bytes: number; tags: number }[] = [];
    sim.fabric.onArrival = (message) => {
      if (message.kind === 'zab.Proposal') {
        const { entries } = message as unknown as MessageOf<'zab.Proposal'>;
        proposals.push({
          entries: entries.length,
          bytes: entries.reduce((n, [, payload]) => n + payload.length, 0),
          tags: entries.filter(([, payload]) => decodeLogEntry(payload).origin !== null).length,
        });
      }
      return true;
    };
    // 24 values of 700 KB in one instant: 16.8 MB, more than a peer frame may carry (16 MiB).
    const outcomes: (KvOutcome | undefined)[] = [];
    for (let i = 0; i < 24; i++) {
      const node = i % 2 === 0 ? leader : follower;
      cluster.submit(
        node,
        cluster.newClientId(),
        { op: 'put', key: `big-${i}`, value: 'x'.repeat(700_000) },
        (outcome) => outcomes.push(outcome),
      );
    }
    sim.runUntil(() => outcomes.length === 24, 10_000);
    sim.fabric.onArrival = undefined;
    expect(outcomes.map((o) => o?.status)).toEqual(Array(24).fill(200));
    for (const p of proposals) expect(p.entries === 1 || p.bytes <= 2 ** 20).toBe(true);
    // Each follower got every entry once, and the forwarded ones name their follower as origin.
    expect(proposals.reduce((n, p) => n + p.entries, 0)).toBe(48);
    expect(proposals.reduce((n, p) => n + p.tags, 0)).toBe(24);
    expect(run.finish()).toBe('ok');
  });
});
