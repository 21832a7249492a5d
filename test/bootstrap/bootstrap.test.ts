import { describe, expect, it } from 'vitest';
import { bootstrapMessages, BOOTSTRAP_SERVER } from '../../bootstrap/bootstrap-messages.js';
import { MessageCatalogue } from '../../components/network/message-catalogue.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { Simulator } from '../../components/sim/index.js';
import type { LookupTable } from '../../bootstrap/lookup-table.js';
import { BootstrapHost } from '../sim/fixtures/bootstrap-host.js';

const address = (id: NodeId) => ({
  id,
  peer: { host: '127.0.0.1', port: 7000 + id },
  http: { host: '127.0.0.1', port: 8000 + id },
});

function cluster(seed: number, size: number, replication: number) {
  const sim = new Simulator({ seed, catalogue: new MessageCatalogue(bootstrapMessages) });
  const server = nodeId(1);
  sim.fabric.alias(BOOTSTRAP_SERVER, server);
  const tables = new Map<NodeId, LookupTable>();
  const founding = new Map<NodeId, boolean>();
  const saved = new Map<NodeId, LookupTable>();
  /** What the hosts keep on disk: each node's check-in nonce, the server's formation. */
  const nonces = new Map<NodeId, number>();
  let formation: ReadonlyMap<NodeId, number> | null = null;
  const add = (id: NodeId) =>
    sim.addNode(id, (env) =>
      env.system.createRoot(BootstrapHost, {
        network: env.network,
        timer: env.timer,
        client: {
          address: address(id),
          table: saved.get(id) ?? null,
          checkInMs: 100,
          random: env.random.fork('bootstrap'),
          ...(nonces.has(id) ? { nonce: nonces.get(id)! } : {}),
        },
        ...(id === server
          ? {
              server: {
                self: id,
                address: address(id),
                clusterSize: size,
                replication,
                table: saved.get(id) ?? null,
                formation,
                formed: (f: ReadonlyMap<NodeId, number>) => (formation = f),
              },
            }
          : {}),
        onTable: ({ table, founding: formed }) => {
          tables.set(id, table);
          founding.set(id, formed);
          saved.set(id, table); // what the host persists
        },
      }),
    );
  /** `id` crashes, its data directory wiped, and restarts: it must get the table again. */
  const wipeAndRestart = (id: NodeId, within = 2_000): void => {
    sim.crash(id);
    saved.delete(id);
    tables.delete(id);
    if (id === server) formation = null; // the formation goes with its directory
    sim.restart(id);
    expect(sim.runUntil(() => tables.has(id), within)).toBe(true);
  };
  return { sim, server, tables, founding, add, saved, nonces, wipeAndRestart };
}

describe('Bootstrap', () => {
  it('forms the cluster once --cluster-size nodes checked in, and every node gets the same table', () => {
    const { sim, tables, add } = cluster(1, 6, 3);
    for (let i = 1; i <= 5; i++) add(nodeId(i));
    sim.runFor(2_000);
    expect(tables.size).toBe(0); // 5 of 6: not formed
    add(nodeId(6));
    expect(sim.runUntil(() => tables.size === 6, 2_000)).toBe(true);
    const versions = new Set([...tables.values()].map((t) => JSON.stringify(t.toData())));
    expect(versions.size).toBe(1);
    const table = tables.get(nodeId(1))!;
    expect(table.groups.map((g) => g.members.length)).toEqual([3, 3]);
    expect(table.address(nodeId(4))).toEqual(address(nodeId(4)));
  });

  it('a member that lost its table gets it again, as no founding member: its stores must sync before they vote', () => {
    const { sim, tables, founding, add, wipeAndRestart } = cluster(5, 3, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    expect([...founding.values()]).toEqual([true, true, true]);
    // Its whole data directory wiped: it may have acknowledged writes it no longer holds.
    wipeAndRestart(nodeId(3));
    expect(founding.get(nodeId(3))).toBe(false);
    // The saved table of a restart is no formation either.
    sim.crash(nodeId(2));
    sim.restart(nodeId(2));
    sim.runFor(10);
    expect(founding.get(nodeId(2))).toBe(false);
  });

  it('a bootstrap node whose data directory was lost takes the table a majority of its members tell it, as no founding member', () => {
    // Nobody checks in with a formed cluster: it waited for --cluster-size check-ins for ever.
    const { sim, server, tables, founding, add, wipeAndRestart } = cluster(9, 3, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    const formed = tables.get(nodeId(2))!.toData();
    // The members restarted from their saved tables meanwhile: they tell it from their start.
    for (const member of [nodeId(2), nodeId(3)]) {
      sim.crash(member);
      sim.restart(member);
    }
    // A majority of the table's nodes tell it, every 25 check-in intervals (2.5 s here).
    wipeAndRestart(server, 10_000);
    expect(tables.get(server)!.toData()).toEqual(formed);
    expect(founding.get(server)).toBe(false);
  });

  it('a bootstrap node restarted before every table went out still answers the founding check-ins as founding', () => {
    // Without the formation kept, every member checking in again got founding=false: a group
    // with one voter, for good.
    const { sim, server, tables, founding, add } = cluster(7, 3, 3);
    sim.fabric.onArrival = (message) =>
      message.kind !== 'bootstrap.Table' || message.dst === server;
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.has(server), 2_000)).toBe(true);
    sim.crash(server);
    sim.runFor(500); // the tables still on their way are lost too
    expect(tables.size).toBe(1);
    sim.fabric.onArrival = undefined;
    sim.restart(server);
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    // (The bootstrap node itself restarted from its saved table: its stores exist already.)
    expect([founding.get(nodeId(2)), founding.get(nodeId(3))]).toEqual([true, true]);
  });

  it('a bootstrap node whose table file alone was lost still answers the founding check-ins it kept as founding', () => {
    // formation.json outlived lookup-table.json; node 5's table was lost on the way. The
    // members that hold theirs tell the table; node 5 has stored nothing yet: founding.
    const { sim, server, tables, founding, add, saved } = cluster(11, 5, 5);
    sim.fabric.onArrival = (message) =>
      message.kind !== 'bootstrap.Table' || message.dst !== nodeId(5);
    for (let i = 1; i <= 5; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 4, 2_000)).toBe(true);
    sim.crash(server);
    saved.delete(server);
    tables.delete(server);
    sim.fabric.onArrival = undefined;
    sim.restart(server);
    expect(sim.runUntil(() => tables.size === 5, 10_000)).toBe(true);
    expect(founding.get(nodeId(5))).toBe(true);
    expect(founding.get(server)).toBe(false);
  });

  it('a member restarted before its table came checks in with the nonce its data directory kept', () => {
    // Its table lost on the way, it restarts after the cluster formed: with a new nonce it
    // would be answered as no founding member, though it never stored anything.
    const { sim, tables, founding, add, nonces } = cluster(8, 3, 3);
    for (const i of [1, 2, 3]) nonces.set(nodeId(i), 1_000 + i);
    sim.fabric.onArrival = (message) =>
      message.kind !== 'bootstrap.Table' || message.dst !== nodeId(2);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 2, 2_000)).toBe(true);
    sim.crash(nodeId(2));
    sim.runFor(500);
    sim.fabric.onArrival = undefined;
    sim.restart(nodeId(2));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    expect(founding.get(nodeId(2))).toBe(true);
  });

  it('a founding check-in whose table was lost on the way is answered as founding when it repeats', () => {
    const { sim, tables, founding, add } = cluster(6, 3, 3);
    let dropped = 0;
    sim.fabric.onArrival = (message) => {
      if (message.kind !== 'bootstrap.Table' || message.dst !== nodeId(3) || dropped > 0)
        return true;
      dropped++;
      return false;
    };
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    expect(dropped).toBe(1);
    expect(founding.get(nodeId(3))).toBe(true);
  });

  it('a restarted node rejoins from its persisted table without the bootstrap node', () => {
    const { sim, server, tables, add } = cluster(2, 3, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    sim.crash(server);
    sim.crash(nodeId(2));
    tables.delete(nodeId(2));
    sim.restart(nodeId(2));
    sim.runFor(10);
    expect(tables.get(nodeId(2))?.version).toBe(1);
  });

  it('a member that lost its table gets it again by checking in', () => {
    const { sim, tables, add, wipeAndRestart } = cluster(4, 3, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    wipeAndRestart(nodeId(3));
  });

  it('ignores a node outside the formed cluster (membership is fixed)', () => {
    const { sim, tables, add } = cluster(3, 3, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    const lateTables: LookupTable[] = [];
    const extra = nodeId(9);
    sim.addNode(extra, (env) =>
      env.system.createRoot(BootstrapHost, {
        network: env.network,
        timer: env.timer,
        client: {
          address: address(extra),
          table: null,
          checkInMs: 100,
          random: env.random.fork('bootstrap'),
        },
        onTable: ({ table }) => lateTables.push(table),
      }),
    );
    sim.runFor(1_000);
    expect(lateTables).toEqual([]); // membership is fixed once formed
  });
});
