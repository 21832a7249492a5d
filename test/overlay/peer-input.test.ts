/**
 * Peer input to routing is validated (issue 11, item 1; reference/security.md §1 "Peer TCP:
 * overlay"): a routed request is taken only from a node of the lookup table and only within
 * the HTTP limits; who leads a group is learned only from that group's members; heartbeats
 * from nodes the failure detector does not monitor change nothing.
 */
import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../components/limits.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { encodeOperation, type KvOperation, type KvOutcome } from '../../kv/kv-operation.js';
import { LEADER_HOP, ROUTE_HOP } from '../../kv/forwarding-messages.js';
import { ClientPool } from '../../sim/client-pool.js';
import { checkOperations } from '../../sim/linearizability/checker.js';
import { keysOf, kvModel } from '../../sim/linearizability/kv-model.js';
import { PartitionedCluster } from '../../sim/partitioned-cluster.js';
import type { ClientInput } from '../../sim/history-recorder.js';
import { fdCluster } from '../sim/fixtures/fd-cluster.js';
import { Forger } from '../sim/fixtures/forger.js';
import { runSeed, seedsToRun } from '../sim/fixtures/seeds.js';

const FILE = 'test/overlay/peer-input.test.ts';

function call(cluster: PartitionedCluster, node: NodeId, input: ClientInput) {
  const result: { outcome?: KvOutcome | undefined; done: boolean } = { done: false };
  cluster.submit(node, cluster.newClientId(), input, (outcome) =>
    Object.assign(result, { outcome, done: true }),
  );
  cluster.sim.runUntil(() => result.done, 10_000);
  return result.outcome;
}

/** What the group owning `key` holds for it, at its leader. */
function held(cluster: PartitionedCluster, key: string): KvOutcome {
  const group = cluster.table.groupOfKey(key).id;
  const leader = cluster.leaderOf(group)!;
  return cluster.host(leader)!.replica.durableState.machine.get(key);
}

function rejectedByOverlays(cluster: PartitionedCluster, reason: string): number {
  return cluster.ids.reduce(
    (sum, id) => sum + (cluster.host(id)?.overlay.rejected[reason] ?? 0),
    0,
  );
}

function rejectedByReplicas(cluster: PartitionedCluster, reason: string): number {
  return cluster.ids.reduce(
    (sum, id) => sum + (cluster.host(id)?.replica.rejected[reason] ?? 0),
    0,
  );
}

/** A formed cluster of 2 groups × 3 with clients writing, and a forger with id 50. */
function setUp(seed: number) {
  const cluster = new PartitionedCluster(seed, 6, 3);
  const { sim } = cluster;
  expect(sim.runUntil(() => cluster.ready(), 5_000)).toBe(true);
  const clients = new ClientPool(cluster, sim.random.fork('clients'), { clients: 6, keys: 6 });
  clients.start();
  sim.runFor(200);
  return { cluster, sim, clients, forger: new Forger(sim) };
}

/** Stops the clients, reads every key back, and checks the history. */
function finish(cluster: PartitionedCluster, clients: ClientPool): void {
  clients.stop();
  cluster.sim.runFor(500);
  expect(call(cluster, cluster.ids[0]!, { op: 'put', key: 'final', value: 'x' })?.status).toBe(200);
  for (const key of new Set(cluster.recorder.history.flatMap((op) => keysOf(op.input)))) {
    call(cluster, cluster.ids[0]!, { op: 'get', key });
  }
  cluster.recorder.abandon();
  expect(checkOperations(kvModel, cluster.recorder.history, { maxSteps: 2_000_000 })).toBe('ok');
}

function request(hop: typeof ROUTE_HOP | typeof LEADER_HOP, group: number, operation: KvOperation) {
  return { hop, group, requestId: 77, payload: encodeOperation(operation) };
}

const put = (key: string, value = new Uint8Array([1])): KvOperation => ({ op: 'put', key, value });

describe('Overlay peer input', () => {
  it('(f) a routed request from a node outside the lookup table does nothing and gets no answer', () => {
    for (const seed of seedsToRun(2, 12_100)) {
      runSeed(seed, FILE, () => {
        const { cluster, sim, clients, forger } = setUp(seed);
        const key = 'forged-by-an-outsider';
        const group = cluster.table.groupOfKey(key);
        for (const member of group.members) {
          forger.send('kv.Request', member, request(ROUTE_HOP, group.id, put(key)));
        }
        sim.runFor(1_000);
        expect(held(cluster, key)).toEqual({ status: 404 });
        expect(forger.received.map((m) => m.kind)).toEqual([]);
        expect(rejectedByOverlays(cluster, 'not-in-table')).toBe(3);
        finish(cluster, clients);
      });
    }
  });

  it('(f) a routed or forwarded request beyond the HTTP limits is refused (503), not logged', () => {
    for (const seed of seedsToRun(2, 12_200)) {
      runSeed(seed, FILE, () => {
        const { cluster, sim, clients, forger } = setUp(seed);
        const long = 'k'.repeat(MAX_KEY_BYTES + 1);
        const multiByte = '€'.repeat(Math.floor(MAX_KEY_BYTES / 3) + 1); // short in UTF-16
        const big = 'big-value';
        const cases: [string, KvOperation][] = [
          [long, put(long)],
          [multiByte, put(multiByte)],
          ['', put('')],
          [big, put(big, new Uint8Array(MAX_VALUE_BYTES + 1))],
        ];
        let sent = 0;
        for (const [key, operation] of cases) {
          const group = cluster.table.groupOfKey(key);
          const outsider = cluster.ids.find((id) => !group.members.includes(id))!;
          // The route hop, as a node of the other group would send it...
          forger.send(
            'kv.Request',
            group.members[0]!,
            request(ROUTE_HOP, group.id, operation),
            outsider,
          );
          // ...and the leader hop, as a member of the group would.
          const leader = cluster.leaderOf(group.id)!;
          const member = group.members.find((id) => id !== leader)!;
          forger.send('kv.Request', leader, request(LEADER_HOP, group.id, operation), member);
          sent++;
        }
        sim.runFor(1_000);
        for (const [key] of cases) expect(held(cluster, key)).toEqual({ status: 404 });
        expect(rejectedByOverlays(cluster, 'over-limits')).toBe(sent);
        expect(rejectedByReplicas(cluster, 'over-limits')).toBe(sent);
        finish(cluster, clients);
      });
    }
  });

  it('(f) a routed request for a group this node is not in (a stale table) is run nowhere', () => {
    for (const seed of seedsToRun(2, 12_250)) {
      runSeed(seed, FILE, () => {
        const { cluster, sim, clients, forger } = setUp(seed);
        const key = 'routed-with-a-stale-table';
        const owner = cluster.table.groupOfKey(key);
        const other = cluster.table.groups.find((g) => g.id !== owner.id)!;
        // What a node whose table placed `other`'s members in `owner` would send them.
        for (const member of other.members) {
          forger.send(
            'kv.Request',
            member,
            request(ROUTE_HOP, owner.id, put(key)),
            owner.members[0]!,
          );
        }
        sim.runFor(1_000);
        for (const group of [owner, other]) {
          const leader = cluster.leaderOf(group.id)!;
          expect(cluster.host(leader)!.replica.durableState.machine.get(key)).toEqual({
            status: 404,
          });
        }
        finish(cluster, clients);
      });
    }
  });

  it('(f) a routed request that does not decode is counted, not logged once per message', () => {
    const { cluster, sim, clients, forger } = setUp(12_300);
    const garbage = new Uint8Array([0xc1, 0xc1, 0xc1]);
    for (let i = 0; i < 100; i++) {
      forger.send(
        'kv.Request',
        nodeId(1),
        { hop: ROUTE_HOP, group: 0, requestId: i, payload: garbage },
        nodeId(4),
      );
    }
    sim.runFor(200);
    expect(rejectedByOverlays(cluster, 'bad-payload')).toBe(100);
    finish(cluster, clients);
  });

  it('(h) who leads a group is learned only from its members, and only a member can be named', () => {
    for (const seed of seedsToRun(2, 12_400)) {
      runSeed(seed, FILE, () => {
        const { cluster, sim, clients, forger } = setUp(seed);
        const group = cluster.table.group(1)!;
        const leader = cluster.leaderOf(group.id)!;
        const follower = group.members.find((id) => id !== leader)!;
        const asker = cluster.table.group(0)!.members[0]!;
        const overlay = () => cluster.host(asker)!.overlay;
        expect(sim.runUntil(() => overlay().leaderOf(group.id) === leader, 2_000)).toBe(true);
        // Quiet, so that no routed answer names the leader again meanwhile.
        clients.stop();
        sim.runFor(500);
        // An outsider names itself; a node of the other group names a follower; a member
        // names an outsider.
        forger.send('overlay.LeaderAnswer', asker, { group: group.id, leader: forger.id });
        forger.send(
          'overlay.LeaderAnswer',
          asker,
          { group: group.id, leader: follower },
          cluster.table.group(0)!.members[1]!,
        );
        forger.send('overlay.LeaderAnswer', asker, { group: group.id, leader: 60 }, follower);
        // Asked by an outsider, nobody answers.
        forger.send('overlay.LeaderQuery', leader, { group: group.id });
        sim.runFor(20);
        expect(overlay().leaderOf(group.id)).toBe(leader);
        expect(forger.received.map((m) => m.kind)).toEqual([]);
        expect(rejectedByOverlays(cluster, 'not-a-member')).toBe(3);
        expect(rejectedByOverlays(cluster, 'not-in-table')).toBe(1);
        finish(cluster, clients);
      });
    }
  });

  it('(h) heartbeats from a node the failure detector does not monitor change no suspicion', () => {
    const { sim, ids, host, suspicions } = fdCluster({ seed: 12_500, nodes: 3 });
    const forger = new Forger(sim);
    sim.runFor(1_000);
    expect(suspicions()).toEqual([]);
    sim.crash(ids[2]!);
    const until = sim.now + 3_000;
    const flood = (): void => {
      for (const id of ids.slice(0, 2)) forger.send('fd.Heartbeat', id, {});
      if (sim.now < until) sim.after(10, flood);
    };
    flood();
    sim.runFor(3_000);
    expect(suspicions()).toEqual([`1>3`, `2>3`]);
    for (const id of ids.slice(0, 2)) expect(host(id).suspects()).not.toContain(forger.id);
    expect(forger.received).toEqual([]);
  });
});
