/**
 * The regression corpus (docs/zab-rules.md, "How the rules are tested"): each ZooKeeper bug
 * that broke ZAB in the field, replayed as a scripted scenario. Every scenario also runs
 * under the global invariants (one leader per epoch, identical committed prefixes, no ACK
 * before durable, acceptedEpoch ≥ currentEpoch) and ends with heal, final write, convergence
 * and a linearizability check of everything the clients saw.
 */
import { describe, expect, it } from 'vitest';
import {
  APPLY_SLICE_ENTRIES_COUNT,
  PROPOSAL_PIECE_ENTRIES_COUNT,
  SNAP_UNWRITTEN_PIECES,
  SNAP_WINDOW_PIECES,
} from '../../components/limits.js';
import type { MessageOf } from '../../components/network/network-port.js';
import type { NodeId } from '../../components/network/node-id.js';
import type { StorageWrite } from '../../components/storage/index.js';
import { counterOf, epochOf } from '../../kv/zxid.js';
import type { DurableState } from '../../replica/durable-state.js';
import { SNAP_PIECES_PER_TURN } from '../../replica/snapshot-sender.js';
import type { StateInstall } from '../../state/state-store.js';
import { ScriptedRun } from '../../sim/scripted-run.js';
import { runSeed, seedsToRun } from './fixtures/seeds.js';
import { submitAndWait } from '../../sim/verify-run.js';
import { RANDOM_WORKLOAD, RandomScenario } from '../../sim/zab-workload.js';

const FILE = 'test/sim/zab-regressions.test.ts';

function eachSeed(count: number, first: number, body: (seed: number) => void): void {
  for (const seed of seedsToRun(count, first)) runSeed(seed, FILE, body);
}

function othersThan(run: ScriptedRun, id: NodeId): NodeId[] {
  return run.cluster.ids.filter((x) => x !== id);
}

const has = (kind: StorageWrite['kind']) => (writes: readonly StorageWrite[]) =>
  writes.some((w) => w.kind === kind);

/** A leader logs a proposal nobody else gets, then crashes: its orphan zxid. */
function orphanOnLeader(run: ScriptedRun, leader: NodeId): number {
  const { cluster, sim } = run;
  for (const follower of othersThan(run, leader)) sim.fabric.block(leader, follower);
  const before = cluster.disks.get(leader)!.durableLastZxid;
  cluster.submit(leader, cluster.newClientId(), { op: 'put', key: 'orphan', value: 'lost' });
  expect(sim.runUntil(() => cluster.disks.get(leader)!.durableLastZxid > before, 1_000)).toBe(true);
  const orphan = cluster.disks.get(leader)!.durableLastZxid;
  cluster.crash(leader);
  sim.fabric.heal();
  return orphan;
}

/**
 * Counts the simulator's steps (each runs the events due at one instant; a zero-delay timer set
 * in a step fires in a later one): the returned function says which step is running.
 */
function countSteps(sim: ScriptedRun['sim']): () => number {
  let steps = 0;
  const step = sim.step.bind(sim);
  sim.step = () => {
    steps++;
    return step();
  };
  return () => steps;
}

/** `follower` misses `count` committed writes while cut off, then the cut heals. */
function lagBehind(run: ScriptedRun, leader: NodeId, follower: NodeId, count: number): void {
  run.sim.fabric.partition([[follower], othersThan(run, follower)]);
  run.writes(leader, count, 'lag');
  run.sim.fabric.heal();
}

/**
 * `follower` is cut off while the group writes about ten snapshot pieces of state, and enough
 * after it that the log no longer reaches back: once the caller heals the cut, it needs a SNAP.
 */
function missBigState(run: ScriptedRun, leader: NodeId, follower: NodeId): void {
  run.sim.fabric.partition([[follower], othersThan(run, follower)]);
  for (let i = 0; i < 24; i++) {
    expect(run.put(leader, `big-${i}`, 'v'.repeat(100_000))?.status).toBe(200);
  }
  run.writes(leader, 40, 'more');
}

/**
 * `follower` is cut off while the group writes past a few trims of the log in memory
 * (snapshotEvery 25, retainEntries 10): its point leaves the log, so it needs a SNAP once healed.
 */
function cutOffPastTrims(run: ScriptedRun, leader: NodeId, follower: NodeId): void {
  run.isolate(follower);
  run.writes(leader, 40, 'gone');
}

describe('ZAB regression corpus (reference/zab.md §6.2)', () => {
  it('ZOOKEEPER-1154: a returning node with an uncommitted txn is truncated to the common prefix, no further', () => {
    eachSeed(6, 1154_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const old = run.awaitLeader();
      const committed = run.writes(old, 5, 'a');
      const orphan = orphanOnLeader(run, old);
      const next = run.awaitLeader((id) => id !== old);
      run.writes(next, 5, 'b');
      run.cluster.restart(old);
      run.awaitServing(old);
      const history = run.cluster.replica(old)!.durableState.history;
      expect(history.entry(orphan)).toBeUndefined();
      // Not over-truncated: the committed entries before the orphan are all still there.
      for (const zxid of committed) expect(history.contains(zxid)).toBe(true);
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-2845: votes carry the last logged zxid, not the last applied one', () => {
    eachSeed(6, 2845_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      run.writes(leader, 3, 'a');
      const [low, high] = othersThan(run, leader) as [NodeId, NodeId];
      // `high` misses the next write; `low` logs and acknowledges it but never hears it committed.
      sim.runFor(20); // earlier COMMITs land first
      sim.fabric.block(leader, high);
      sim.fabric.onArrival = (message) => {
        if (message.kind !== 'zab.Commit' || message.dst !== low) return true;
        sim.after(0, () => cluster.crash(leader));
        return false;
      };
      const outcome = run.put(leader, 'w', 'acknowledged');
      expect(outcome?.status).toBe(200);
      const version = outcome?.status === 200 ? outcome.version : 0;
      sim.runUntil(() => !sim.isUp(leader), 1_000);
      sim.fabric.onArrival = undefined;
      sim.fabric.heal();
      expect(cluster.replica(low)!.durableState.history.last).toBe(version);
      expect(cluster.replica(low)!.durableState.machine.appliedZxid).toBeLessThan(version);
      // `high` has the higher id: only the logged zxid in `low`'s vote makes `low` win.
      const next = run.awaitLeader((id) => id !== leader);
      expect(next).toBe(low);
      const read = submitAndWait(cluster, next, { op: 'get', key: 'w' });
      expect(read).toMatchObject({ status: 200, version });
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-2832/-1549: a SNAP replaces the whole log; an uncommitted txn never comes back after restart', () => {
    eachSeed(4, 2832_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      run.writes(leader, 3, 'a');
      const [holder, other] = othersThan(run, leader) as [NodeId, NodeId];
      // Only `holder` gets the next proposal, its ACK is lost, and the leader never logs it.
      sim.fabric.block(leader, other);
      sim.fabric.block(holder, leader);
      const failpoint = cluster.crashAtFlush(leader, 'before', has('Append'));
      const before = cluster.disks.get(holder)!.durableLastZxid;
      cluster.submit(leader, cluster.newClientId(), { op: 'put', key: 'orphan', value: 'lost' });
      expect(
        sim.runUntil(
          () => !sim.isUp(leader) && cluster.disks.get(holder)!.durableLastZxid > before,
          2_000,
        ),
      ).toBe(true);
      expect(failpoint.fired, 'crash before the leader logs the orphan').toBe(true);
      const orphan = cluster.disks.get(holder)!.durableLastZxid;
      cluster.crash(holder);
      sim.fabric.heal();
      cluster.restart(leader);
      const next = run.awaitLeader((id) => id !== holder);
      run.writes(next, 40, 'b'); // enough for snapshots to compact the log past the orphan
      let snaps = 0;
      sim.fabric.onArrival = (message) => {
        if (message.kind === 'zab.Snap' && message.dst === holder) snaps++;
        return true;
      };
      cluster.restart(holder);
      run.awaitServing(holder);
      expect(snaps).toBeGreaterThan(0);
      expect(cluster.replica(holder)!.durableState.history.entry(orphan)).toBeUndefined();
      cluster.crash(holder);
      cluster.restart(holder);
      run.awaitServing(holder);
      expect(cluster.replica(holder)!.durableState.history.entry(orphan)).toBeUndefined();
      expect(run.finish()).toBe('ok');
    });
  });

  it('a SNAP streams in acknowledged pieces and completes in one session, under the same leader', () => {
    eachSeed(4, 5_000_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const epoch = cluster.replica(leader)!.durableState.currentEpoch;
      const [behind] = othersThan(run, leader) as [NodeId];
      let pieces = 0;
      let acks = 0;
      sim.fabric.onArrival = (message) => {
        if (message.kind === 'zab.Snap' && message.dst === behind) pieces++;
        if (message.kind === 'zab.SnapAck' && message.src === behind) acks++;
        return true;
      };
      lagBehind(run, leader, behind, 40);
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      expect(pieces).toBeGreaterThan(0);
      // Every piece acknowledged once, the last one too, and nothing refused on either side.
      expect(acks).toBe(pieces);
      const refused = (id: NodeId) =>
        Object.values(cluster.replica(id)!.rejected).reduce((sum, count) => sum + count, 0);
      expect({ leader: refused(leader), follower: refused(behind) }).toEqual({
        leader: 0,
        follower: 0,
      });
      expect(cluster.leader()).toBe(leader);
      expect(cluster.replica(leader)!.durableState.currentEpoch).toBe(epoch);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a SNAP leader reads at most SNAP_PIECES_PER_TURN pieces a turn and keeps at most a window ahead', () => {
    eachSeed(2, 5_100_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      missBigState(run, leader, behind);
      const steps = countSteps(sim);
      const perStep = new Map<number, number>();
      let sent = 0;
      let acked = 0;
      let ahead = 0;
      sim.fabric.onArrival = (message) => {
        if (message.kind === 'zab.SnapAck' && message.src === behind) acked++;
        return true;
      };
      const host = cluster.replica(leader)!;
      const send = host.send.bind(host);
      host.send = (message) => {
        if (message.kind === 'zab.Snap' && message.dst === behind) {
          perStep.set(steps(), (perStep.get(steps()) ?? 0) + 1);
          sent++;
          ahead = Math.max(ahead, sent - acked);
        }
        send(message);
      };
      sim.fabric.heal();
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      expect(sent).toBeGreaterThanOrEqual(SNAP_WINDOW_PIECES);
      expect(Math.max(...perStep.values())).toBeLessThanOrEqual(SNAP_PIECES_PER_TURN);
      expect(ahead).toBeLessThanOrEqual(SNAP_WINDOW_PIECES);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a SNAP follower acknowledges pieces no further ahead of what its store has written than a few', () => {
    // Acknowledged on arrival, pieces waited in memory for the store as fast as the network
    // brought them (a 1 GB SNAP on loopback: 300-520 MiB of a follower's memory, 150 without):
    // the leader's window bounds them only if an acknowledgement means nearly written.
    eachSeed(2, 5_200_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      missBigState(run, leader, behind);
      const durable = cluster.replica(behind)!.durableState as DurableState;
      const beginInstall = durable.beginInstall.bind(durable);
      let install: StateInstall | null = null;
      durable.beginInstall = (zxid) => (install = beginInstall(zxid));
      const early: string[] = [];
      let acks = 0;
      sim.fabric.onArrival = (message) => {
        if (message.kind !== 'zab.SnapAck' || message.src !== behind) return true;
        const { piece } = message as MessageOf<'zab.SnapAck'>;
        acks++;
        const written = install!.piecesWritten;
        if (piece >= written + SNAP_UNWRITTEN_PIECES && !install!.installed) {
          early.push(`${piece} of ${written} written`);
        }
        return true;
      };
      sim.fabric.heal();
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      expect(acks).toBeGreaterThanOrEqual(SNAP_WINDOW_PIECES);
      expect(early).toEqual([]);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a sync that falls behind the writes by more than its bound ends, and starts over from a newer state', () => {
    // The leader holds the log after a SNAP's snapshot for it, all of it: a SNAP slower than
    // the writes grew the leader's memory without bound.
    eachSeed(3, 5_300_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3, replica: { syncBacklogBytes: 20_000 } });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      missBigState(run, leader, behind);
      const snapshots = new Set<number>();
      let ended = 0;
      sim.fabric.onArrival = (message) => {
        if (message.dst !== behind) return true;
        if (message.kind === 'zab.Snap') snapshots.add((message as MessageOf<'zab.Snap'>).zxid);
        if (message.kind === 'zab.Close' && message.src === leader) ended++;
        return true;
      };
      // A slow link, and a writer of 1 KB values every 5 ms while the state streams.
      const link = sim.fabric.model;
      sim.fabric.model = { minLatencyMs: 20, maxLatencyMs: 40, lossRate: 0 };
      let written = 0;
      const write = (): void => {
        if (ended > 0) return;
        const value = 'w'.repeat(1_000);
        cluster.submit(leader, cluster.newClientId(), { op: 'put', key: `w${written++}`, value });
        sim.after(5, write);
      };
      sim.fabric.heal();
      write();
      expect(sim.runUntil(() => ended > 0, 10_000)).toBe(true);
      sim.fabric.model = link;
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      // Started over from a newer state, which went through once the writes stopped.
      expect(snapshots.size).toBeGreaterThan(1);
      expect(cluster.leader()).toBe(leader);
      expect(run.finish()).toBe('ok');
    });
  });

  it("a SNAP's tail continues its snapshot while the leader's store lags behind the log trims", () => {
    // The snapshot is what the store holds, behind what was applied until the log's fsync and
    // the store's commit; the log in memory used to be trimmed behind the applied zxid alone.
    // A store held back (a slow disk) past a trim left the log starting after the snapshot: the
    // follower refused the gap and asked again, every time.
    eachSeed(3, 8_100, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      cutOffPastTrims(run, leader, behind);
      const store = cluster.replica(leader)!.durableState.machine;
      const release = store.release.bind(store);
      store.release = () => {};
      const held = store.snapshotZxid;
      run.writes(leader, 80, 'lag');
      expect(store.snapshotZxid).toBe(held);
      const history = cluster.replica(leader)!.durableState.history;
      expect(history.first!).toBeLessThanOrEqual(held + 1);
      const snapshots: number[] = [];
      sim.fabric.onArrival = (message) => {
        if (message.dst === behind && message.kind === 'zab.Snap') {
          snapshots.push((message as MessageOf<'zab.Snap'>).zxid);
        }
        return true;
      };
      sim.fabric.heal();
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      expect(new Set(snapshots)).toEqual(new Set([held]));
      store.release = release;
      expect(run.finish()).toBe('ok');
    });
  });

  it("a follower that closes its session during a SNAP leaves no pin on the leader's log", () => {
    // The leader dropped the handler on CLOSE without its snapshot view and log pin: the log
    // never compacted past that snapshot again, for the life of the process.
    eachSeed(3, 8_300, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      cutOffPastTrims(run, leader, behind);
      let first = -1;
      sim.fabric.onArrival = (message) => {
        if (first < 0 && message.dst === behind && message.kind === 'zab.Snap') {
          const snap = message as MessageOf<'zab.Snap'>;
          first = snap.zxid;
          // A piece that does not decode: the follower refuses it and closes its session.
          (snap as { data: Uint8Array }).data = new Uint8Array(snap.data.length).fill(0xc1);
        }
        return true;
      };
      sim.fabric.heal();
      expect(sim.runUntil(() => first >= 0, 5_000)).toBe(true);
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      run.writes(leader, 80, 'after'); // several trims later
      const history = cluster.replica(leader)!.durableState.history;
      expect(history.first!).toBeGreaterThan(first + 1); // the pin held it at first + 1
      expect(run.finish()).toBe('ok');
    });
  });

  it('a syncing follower the established leader pings gives it up after two syncLimits, not initLimit', () => {
    // It waited initLimit (10 s in production) until UPTODATE: a SIGSTOPped leader held it that
    // long, and with it the voter the others needed to elect a new leader.
    eachSeed(3, 8_350, (seed) => {
      const run = new ScriptedRun({ seed, size: 3, replica: { initLimitTicks: 100 } });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      missBigState(run, leader, behind);
      // A Ping between the SNAP's pieces: then the leader goes silent mid-sync.
      let pinged = false;
      sim.fabric.onArrival = (message) => {
        if (message.dst === behind && message.kind === 'zab.Ping') pinged = true;
        return true;
      };
      sim.fabric.heal();
      expect(sim.runUntil(() => pinged, 5_000)).toBe(true);
      expect(cluster.replica(behind)!.serving).toBe(false);
      const silentFrom = sim.now;
      sim.fabric.onArrival = (message) => message.dst !== behind || message.src !== leader;
      const left = () => cluster.replica(behind)!.roleName !== 'following';
      expect(sim.runUntil(left, 10_000)).toBe(true);
      // Two syncLimits are 10 ticks of 50 ms; a tick more for where the count started.
      expect(sim.now - silentFrom).toBeLessThanOrEqual(11 * 50);
      sim.fabric.onArrival = undefined;
      expect(run.finish()).toBe('ok');
    });
  });

  it("a write the log's reader would refuse is answered 503 by the leader, never logged", () => {
    // A transaction compare version past 2^53 (HTTP now refuses it) encodes as a float that
    // decodeOperation refuses: logged, the followers refused the proposal and the group stopped.
    eachSeed(3, 8_390, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster } = run;
      const leader = run.awaitLeader();
      const last = cluster.replica(leader)!.durableState.history.last;
      const outcome = submitAndWait(cluster, leader, {
        op: 'txn',
        compare: [{ key: 'k', version: 1e16 }],
        success: [{ op: 'get', key: 'k' }],
        failure: [],
      });
      expect(outcome).toMatchObject({ status: 503, reason: 'not a well-formed write' });
      expect(cluster.replica(leader)!.durableState.history.last).toBe(last);
      expect(run.put(leader, 'after', 'v')?.status).toBe(200);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a leader no quorum registers with gives up after two syncLimits, not initLimit', () => {
    // A split election (voters deciding before a better vote reached them) left such a leader
    // in discovery, and the group without one, for initLimit (10 s in production).
    eachSeed(3, 8_370, (seed) => {
      const run = new ScriptedRun({ seed, size: 3, replica: { initLimitTicks: 100 } });
      const { cluster, sim } = run;
      const old = run.awaitLeader();
      cluster.crash(old);
      sim.fabric.onArrival = (message) => message.kind !== 'zab.FollowerInfo';
      const leading = () => cluster.ids.find((id) => cluster.replica(id)?.roleName === 'leading');
      expect(sim.runUntil(() => leading() !== undefined, 5_000)).toBe(true);
      const stuck = leading()!;
      const from = sim.now;
      expect(sim.runUntil(() => cluster.replica(stuck)!.roleName !== 'leading', 10_000)).toBe(true);
      // syncLimit is 5 ticks of 50 ms; a tick more for where the count started.
      expect(sim.now - from).toBeLessThanOrEqual(11 * 50);
      sim.fabric.onArrival = undefined;
      cluster.restart(old);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a follower whose log tail is longer than a sync may hold gets the state instead (snapshotSizeFactor)', () => {
    // Sent as a DIFF, such a tail would be ended for its backlog and tried again the same way.
    eachSeed(3, 5_400_00, (seed) => {
      const replica = { snapshotEvery: 10_000, retainEntries: 10_000, syncBacklogBytes: 5_000 };
      const run = new ScriptedRun({ seed, size: 3, replica });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      sim.fabric.partition([[behind], othersThan(run, behind)]);
      for (let i = 0; i < 10; i++) {
        expect(run.put(leader, `tail-${i}`, 'v'.repeat(1_000))?.status).toBe(200);
      }
      const history = cluster.replica(leader)!.durableState.history;
      const behindLast = cluster.replica(behind)!.durableState.history.last;
      expect(history.contains(behindLast)).toBe(true); // a DIFF could bring it up to date
      const kinds = new Set<string>();
      sim.fabric.onArrival = (message) => {
        if (message.dst === behind && message.src === leader) kinds.add(message.kind);
        return true;
      };
      sim.fabric.heal();
      run.awaitServing(behind);
      sim.fabric.onArrival = undefined;
      expect(kinds.has('zab.Snap')).toBe(true);
      expect(kinds.has('zab.Diff')).toBe(false);
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-3642/-5094: a SNAP interrupted before NEWLEADER leaves memory and disk alike', () => {
    // The snapshot is installed once its last piece is in and on disk (the log restarting after
    // it), before the entries and NEWLEADER follow: an interrupted sync leaves either the state
    // before it or the snapshot's, the same in memory as on disk, never a mix.
    eachSeed(4, 3642_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      lagBehind(run, leader, behind, 40);
      let interrupted = false;
      sim.fabric.onArrival = (message) => {
        if (interrupted || message.kind !== 'zab.NewLeader' || message.dst !== behind) return true;
        interrupted = true;
        sim.after(0, () => cluster.crash(leader));
        return false;
      };
      expect(sim.runUntil(() => interrupted, 10_000)).toBe(true);
      sim.runUntil(() => cluster.replica(behind)!.roleName === 'looking', 2_000);
      const inMemory = cluster.replica(behind)!.durableState;
      const before = { last: inMemory.history.last, applied: inMemory.machine.appliedZxid };
      const digest = inMemory.machine.digest();
      cluster.crash(behind);
      cluster.restart(behind);
      sim.runUntil(() => cluster.replica(behind)!.roleName !== 'starting', 2_000);
      const reloaded = cluster.replica(behind)!.durableState;
      expect({ last: reloaded.history.last, applied: reloaded.machine.appliedZxid }).toEqual(
        before,
      );
      expect(reloaded.machine.digest()).toBe(digest);
      sim.fabric.onArrival = undefined;
      expect(run.finish()).toBe('ok');
    });
  });

  it("a SNAP's tail is logged as it arrives, not held in memory for NEWLEADER", () => {
    // A SNAP under load lasts long enough for every write meanwhile to form its tail; held for
    // NEWLEADER it grew without bound in the follower's memory. Cut off just before NEWLEADER,
    // the follower still gets the tail to disk, and a restart from there loses nothing.
    eachSeed(4, 7_700, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 }, 4);
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [behind] = othersThan(run, leader) as [NodeId];
      lagBehind(run, leader, behind, 40);
      run.startClients();
      let snapshot = -1;
      let tailEntries = 0;
      let cut = false;
      sim.fabric.onArrival = (message) => {
        if (cut || message.dst !== behind) return true;
        if (message.kind === 'zab.Snap') snapshot = (message as MessageOf<'zab.Snap'>).zxid;
        if (message.kind === 'zab.Proposal' && snapshot >= 0) {
          tailEntries += (message as MessageOf<'zab.Proposal'>).entries.length;
        }
        if (message.kind !== 'zab.NewLeader') return true;
        cut = true;
        return false;
      };
      expect(sim.runUntil(() => cut, 10_000)).toBe(true);
      // Alone, it can take no other sync that would log the same entries.
      run.isolate(behind);
      sim.fabric.onArrival = undefined;
      expect(snapshot).toBeGreaterThan(0);
      expect(tailEntries).toBeGreaterThan(0);
      const disk = cluster.disks.get(behind)!;
      expect(sim.runUntil(() => disk.durableLastZxid === snapshot + tailEntries, 1_000)).toBe(true);
      cluster.crash(behind);
      cluster.restart(behind);
      sim.fabric.heal();
      run.awaitServing(behind);
      expect(run.finish()).toBe('ok');
    });
  });

  for (const mode of ['diff', 'trunc', 'snap'] as const) {
    it(`crash at every persistence step of NEWLEADER handling (${mode} sync): ZOOKEEPER-3911, -4643, -4646, -3104`, () => {
      const steps = [
        ['before', 'SetCurrentEpoch'],
        ['after', 'SetCurrentEpoch'],
        ['before', mode === 'snap' ? 'InstallSnapshot' : mode === 'trunc' ? 'Truncate' : 'Append'],
        ['after', mode === 'snap' ? 'InstallSnapshot' : mode === 'trunc' ? 'Truncate' : 'Append'],
      ] as const;
      eachSeed(12, 3911_00 + ['diff', 'trunc', 'snap'].indexOf(mode) * 100, (seed) => {
        const [moment, kind] = steps[seed % steps.length]!;
        const run = new ScriptedRun({ seed, size: 3 }, 3);
        const { cluster, sim } = run;
        const leader = run.awaitLeader();
        run.writes(leader, 3, 'a');
        let syncing: NodeId;
        if (mode === 'trunc') {
          orphanOnLeader(run, leader);
          run.awaitLeader((id) => id !== leader);
          syncing = leader;
        } else {
          syncing = othersThan(run, leader)[0]!;
          lagBehind(run, leader, syncing, mode === 'snap' ? 40 : 4);
          cluster.crash(syncing);
        }
        run.startClients();
        const failpoint = cluster.crashAtFlush(syncing, moment, has(kind));
        cluster.restart(syncing);
        sim.runUntil(() => !sim.isUp(syncing), 3_000);
        expect(failpoint.fired, `crash ${moment} ${kind} on ${syncing}`).toBe(true);
        cluster.restart(syncing);
        run.awaitServing(syncing);
        // Then the group loses its quorum all at once, right after the sync (3911's loss).
        for (const id of cluster.ids) cluster.crash(id);
        for (const id of cluster.ids) cluster.restart(id);
        expect(run.finish()).toBe('ok');
      });
    });
  }

  it('ZOOKEEPER-4685/-4394: a late joiner synced under load is counted; COMMITs before UPTODATE are kept', () => {
    eachSeed(6, 4685_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3, flushMs: [2, 12] }, 4);
      const { cluster } = run;
      const leader = run.awaitLeader();
      const [joiner, other] = othersThan(run, leader) as [NodeId, NodeId];
      run.startClients();
      lagBehind(run, leader, joiner, 6);
      run.awaitServing(joiner);
      // Only the joiner is left to make a quorum with the leader.
      cluster.crash(other);
      run.stopClients();
      expect(run.writes(leader, 5, 'after').length).toBe(5);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a follower synced far behind applies what is committed a slice per turn, under load', () => {
    eachSeed(3, 9_300, (seed) => {
      // A log long enough for DIFF: the entries are applied at UPTODATE, not installed.
      const replica = { snapshotEvery: 10_000, retainEntries: 10_000 };
      const run = new ScriptedRun({ seed, size: 3, replica }, 4);
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [joiner] = othersThan(run, leader) as [NodeId];
      run.writes(leader, 2, 'before');
      // The entries applied in each simulator step: COMMITs arriving during the catch-up must
      // not each apply a slice of their own.
      const steps = countSteps(sim);
      const durable = cluster.replica(joiner)!.durableState as DurableState;
      const commitThrough = durable.commitThrough.bind(durable);
      const perStep = new Map<number, number>();
      durable.commitThrough = (zxid, onApplied) =>
        commitThrough(zxid, (applied) => {
          perStep.set(steps(), (perStep.get(steps()) ?? 0) + 1);
          onApplied(applied);
        });
      lagBehind(run, leader, joiner, 3 * APPLY_SLICE_ENTRIES_COUNT);
      run.startClients();
      run.awaitServing(joiner);
      sim.runFor(1_000);
      run.stopClients();
      expect(cluster.replica(joiner)!.durableState).toBe(durable); // not restarted meanwhile
      const applied = [...perStep.values()];
      expect(applied.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(
        3 * APPLY_SLICE_ENTRIES_COUNT,
      );
      // A slice, and what the four clients' writes committed at that instant besides.
      expect(Math.max(...applied)).toBeLessThanOrEqual(APPLY_SLICE_ENTRIES_COUNT + 4);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a leader streams a long sync tail a proposal piece per event, the last with NEWLEADER, under load', () => {
    eachSeed(3, 9_400, (seed) => {
      const replica = { snapshotEvery: 10_000, retainEntries: 10_000 };
      const run = new ScriptedRun({ seed, size: 3, replica }, 4);
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [joiner, other] = othersThan(run, leader) as [NodeId, NodeId];
      // Which step each message to the joiner left in.
      const steps = countSteps(sim);
      const sent: { readonly step: number; readonly kind: string; readonly entries: number }[] = [];
      const host = cluster.replica(leader)!;
      const send = host.send.bind(host);
      host.send = (message) => {
        if (message.dst === joiner) {
          const entries = message.kind === 'zab.Proposal' ? message.entries.length : 0;
          sent.push({ step: steps(), kind: message.kind, entries });
        }
        send(message);
      };
      sim.fabric.partition([[joiner], [leader, other]]);
      run.writes(leader, 3 * PROPOSAL_PIECE_ENTRIES_COUNT, 'lag');
      run.startClients();
      sim.fabric.heal();
      run.awaitServing(joiner);
      run.stopClients();
      expect(cluster.replica(leader)).toBe(host); // the same leader throughout
      const start = sent.findIndex((m) => m.kind === 'zab.Diff');
      const end = sent.findIndex((m, i) => i > start && m.kind === 'zab.NewLeader');
      expect(start).toBeGreaterThanOrEqual(0);
      expect(end).toBeGreaterThan(start);
      const pieces = sent.slice(start + 1, end);
      expect(pieces.every((m) => m.kind === 'zab.Proposal')).toBe(true);
      expect(pieces.reduce((n, m) => n + m.entries, 0)).toBeGreaterThanOrEqual(
        3 * PROPOSAL_PIECE_ENTRIES_COUNT,
      );
      // One piece per step, and the last in NEWLEADER's.
      expect(new Set(pieces.map((m) => m.step)).size).toBe(pieces.length);
      expect(pieces.at(-1)!.step).toBe(sent[end]!.step);
      expect(run.finish()).toBe('ok');
    });
  });

  it('a node restarted on a discarded log restarts it only at a state on disk, so a later crash keeps its vote', () => {
    // Found by the sweep (seed 43976): a node whose damaged log was discarded restarted it after
    // applies not flushed yet; synced and crashed, its state came back below that point, and it
    // lost its vote for good beside another damaged node: no quorum could ever form again.
    const result = new RandomScenario(43_976, 3, RANDOM_WORKLOAD).run();
    expect(result.verdict).toBe('ok');
  });

  it('ZOOKEEPER-4712: slow disks and repeated role changes never let a stale write land after a resync', () => {
    eachSeed(20, 4712_00, (seed) => {
      const result = new RandomScenario(
        seed,
        3,
        { clients: 6, keys: 4, durationMs: 3_000, faults: true },
        { flushMs: [20, 80] },
      ).run();
      expect(result.verdict).toBe('ok');
    });
  });

  it('ZOOKEEPER-4925: a follower synced by DIFF leads later and syncs others without holes', () => {
    eachSeed(6, 4925_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster } = run;
      const first = run.awaitLeader();
      const [a, b] = othersThan(run, first) as [NodeId, NodeId];
      lagBehind(run, first, a, 6);
      run.awaitServing(a);
      run.writes(first, 3, 'x');
      cluster.crash(first);
      const second = run.awaitLeader((id) => id !== first);
      run.writes(second, 4, 'y');
      cluster.restart(first);
      run.awaitServing(first);
      const third = second === a ? b : a;
      cluster.crash(second);
      run.awaitLeader((id) => id === third || id === first);
      cluster.restart(second);
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-261: a node with a wiped disk does not vote until it has synced', () => {
    eachSeed(6, 261_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 });
      const { cluster, sim } = run;
      const leader = run.awaitLeader();
      const [keeper, laggard] = othersThan(run, leader) as [NodeId, NodeId];
      sim.fabric.block(leader, laggard);
      const put = run.put(leader, 'w', 'committed');
      expect(put?.status).toBe(200);
      cluster.crash(leader);
      cluster.crash(keeper);
      sim.fabric.heal();
      cluster.disks.get(keeper)!.wipe();
      cluster.restart(keeper);
      // The wiped node and the laggard are two of three, but only one of them may vote.
      sim.runFor(3_000);
      expect(cluster.leader()).toBeNull();
      expect(submitAndWait(cluster, laggard, { op: 'put', key: 'x', value: 'y' })?.status).toBe(
        503,
      );
      cluster.restart(leader);
      run.awaitLeader();
      const read = submitAndWait(cluster, laggard, { op: 'get', key: 'w' });
      expect(read).toMatchObject({ status: 200, version: put?.status === 200 ? put.version : -1 });
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-1277: an exhausted zxid counter forces a new epoch and the last value is never used', () => {
    eachSeed(3, 1277_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3, replica: { counterLimit: 8 } });
      const { cluster, sim } = run;
      run.awaitLeader();
      const zxids: number[] = [];
      for (let i = 0; zxids.length < 30; i++) {
        expect(i).toBeLessThan(500);
        const outcome = run.put(cluster.ids[i % 3]!, `k${i % 4}`, `v${i}`);
        if (outcome?.status === 200) zxids.push(outcome.version);
        else sim.runFor(50);
      }
      expect(Math.max(...zxids.map(counterOf))).toBeLessThan(8);
      expect(new Set(zxids.map(epochOf)).size).toBeGreaterThanOrEqual(4);
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-1675: an old leader cut off with its clients still talking to it serves no stale read', () => {
    eachSeed(8, 1675_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 5 }, 8);
      const { cluster, sim } = run;
      const old = run.awaitLeader();
      run.startClients();
      sim.runFor(300);
      run.isolate(old);
      run.awaitLeader((id) => id !== old);
      sim.runFor(600);
      sim.fabric.heal();
      sim.runFor(300);
      expect(cluster.leaders.size).toBeGreaterThanOrEqual(2);
      expect(run.finish()).toBe('ok');
    });
  });

  it('ZOOKEEPER-335/-1291: a crash around the acceptedEpoch write never breaks a promise', () => {
    eachSeed(8, 335_00, (seed) => {
      const run = new ScriptedRun({ seed, size: 3 }, 3);
      const { cluster } = run;
      const leader = run.awaitLeader();
      run.startClients();
      const victim = othersThan(run, leader)[seed % 2]!;
      const moment = seed % 4 < 2 ? 'before' : 'after';
      const failpoint = cluster.crashAtFlush(victim, moment, has('SetAcceptedEpoch'));
      cluster.crash(leader);
      run.sim.runUntil(() => !run.sim.isUp(victim), 3_000);
      expect(failpoint.fired, `crash ${moment} SetAcceptedEpoch on ${victim}`).toBe(true);
      cluster.restart(victim);
      cluster.restart(leader);
      expect(run.finish()).toBe('ok');
    });
  });
});
