/**
 * Peer input to bootstrap is validated (issue 11, item 1; reference/security.md §1 "bootstrap
 * check-in" and "bootstrap.Table"): a lookup table is taken only from the bootstrap node this
 * node checked in with, and only while it has none; a check-in never moves a node's address.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapMessages, BOOTSTRAP_SERVER } from '../../bootstrap/bootstrap-messages.js';
import { LookupTable, type NodeAddress } from '../../bootstrap/lookup-table.js';
import { leaf, type ComponentContext } from '../../components/kernel/index.js';
import { MessageCatalogue } from '../../components/network/message-catalogue.js';
import { nodeId, type NodeId, type PeerAddress } from '../../components/network/node-id.js';
import { Simulator } from '../../components/sim/index.js';
import { SimNetwork, type SimNetworkInit } from '../../components/sim/sim-network.js';
import { BootstrapHost } from '../sim/fixtures/bootstrap-host.js';
import { Forger } from '../sim/fixtures/forger.js';

const address = (id: number, host = '127.0.0.1'): NodeAddress => ({
  id,
  peer: { host, port: 7000 + (id % 1000) },
  http: { host, port: 8000 + (id % 1000) },
});

/** The simulated network, also telling the test every address update its node asks for. */
class RecordingSimNetwork extends SimNetwork {
  constructor(
    context: ComponentContext,
    init: SimNetworkInit & { readonly onSetPeers: (peers: readonly PeerAddress[]) => void },
  ) {
    super(context, init);
    this.subscribeAll(this.network, (request) => {
      if (request.kind === 'SetPeers') init.onSetPeers(request.peers);
    });
  }
}

function cluster(seed: number, size: number) {
  const sim = new Simulator({ seed, catalogue: new MessageCatalogue(bootstrapMessages) });
  const server = nodeId(1);
  sim.fabric.alias(BOOTSTRAP_SERVER, server);
  const tables = new Map<NodeId, LookupTable>();
  const saved = new Map<NodeId, LookupTable>();
  /** Every address the bootstrap node's network was told, in order. */
  const serverPeers: PeerAddress[] = [];
  const add = (id: NodeId) =>
    sim.addNode(id, (env) =>
      env.system.createRoot(BootstrapHost, {
        network:
          id === server
            ? leaf(RecordingSimNetwork, {
                self: id,
                fabric: sim.fabric,
                onSetPeers: (peers: readonly PeerAddress[]) => serverPeers.push(...peers),
              })
            : env.network,
        timer: env.timer,
        client: {
          address: address(id),
          table: saved.get(id) ?? null,
          checkInMs: 100,
          random: env.random.fork('bootstrap'),
        },
        ...(id === server
          ? {
              server: {
                self: id,
                address: address(id),
                clusterSize: size,
                replication: 3,
                table: saved.get(id) ?? null,
              },
            }
          : {}),
        onTable: ({ table }) => {
          tables.set(id, table);
          saved.set(id, table);
        },
      }),
    );
  const host = (id: NodeId) => sim.rootOf(id) as BootstrapHost;
  return { sim, server, tables, saved, serverPeers, add, host, forger: new Forger(sim) };
}

/** A table an attacker would like a node to take: itself in the first group. */
function forgedTable(version: number, ...ids: number[]) {
  return LookupTable.assign(
    version,
    [...ids, 50].map((id) => address(id, '10.6.6.6')),
    3,
  ).toData();
}

describe('Bootstrap peer input', () => {
  it('(g) after formation, a table from anyone but the bootstrap node is ignored and not saved', () => {
    const { sim, tables, saved, add, host, forger } = cluster(13_100, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    const victim = nodeId(3);
    // From an outsider, from a member, and from the bootstrap node's own id.
    for (const from of [forger.id, nodeId(2), nodeId(1)]) {
      forger.send(
        'bootstrap.Table',
        victim,
        { table: forgedTable(2, 1, 2, 3), nonce: 1, founding: true },
        from,
      );
    }
    sim.runFor(100);
    expect(tables.get(victim)!.version).toBe(1);
    expect(saved.get(victim)!.version).toBe(1);
    expect(tables.get(victim)!.address(forger.id)).toBeUndefined();
    expect(host(victim).client.rejected['table-not-from-bootstrap']).toBe(3);
  });

  it('(g) before formation, a forged table is not taken in place of the bootstrap node’s', () => {
    const { sim, tables, add, host, forger } = cluster(13_200, 4);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    sim.runFor(300);
    const victim = nodeId(2);
    forger.send('bootstrap.Table', victim, {
      table: forgedTable(1, 1, 2, 3),
      nonce: 12_345,
      founding: true,
    });
    sim.runFor(100);
    expect(tables.has(victim)).toBe(false);
    add(nodeId(4));
    expect(sim.runUntil(() => tables.size === 4, 2_000)).toBe(true);
    expect(tables.get(victim)!.address(forger.id)).toBeUndefined();
    expect(host(victim).client.rejected['table-not-from-bootstrap']).toBe(1);
  });

  it('(g) a bootstrap node without a table takes none that does not fit it from a member', () => {
    // Before formation (or after its directory was lost), it takes a table a member tells it
    // only if the sender is in it, it lists this node where it listens, and it has
    // --cluster-size nodes.
    const { sim, server, tables, add, host, forger } = cluster(13_250, 3);
    add(server);
    sim.runFor(300);
    const tell = (table: ReturnType<typeof forgedTable>, from: NodeId) =>
      forger.send('bootstrap.Member', BOOTSTRAP_SERVER, { table }, from);
    tell(forgedTable(1, 1, 2), forger.id); // the sender is in it, this node elsewhere
    tell(forgedTable(1, 2, 3), nodeId(2)); // this node not in it
    tell(
      LookupTable.assign(1, [address(1), address(2), address(3), address(4)], 3).toData(),
      nodeId(2),
    ); // four nodes, --cluster-size 3
    tell(LookupTable.assign(1, [address(1), address(2), address(3)], 3).toData(), nodeId(7)); // not in it
    sim.runFor(100);
    expect(host(server).server!.rejected).toMatchObject({ 'bad-table': 3, 'not-in-table': 1 });
    expect(tables.has(server)).toBe(false);
    // Formation goes on as before.
    add(nodeId(2));
    add(nodeId(3));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    expect(tables.get(server)!.address(forger.id)).toBeUndefined();
  });

  it('(g) before formation, one forged member cannot decide the table, even one that fits', () => {
    // The table formation would make of node 1, node 2 (both checked in where they listen)
    // and the forger: taken from one teller, it would have left out node 3 and answered no
    // check-in as founding (a group with no voter).
    const { sim, server, tables, add, host, forger } = cluster(13_260, 3);
    add(server);
    add(nodeId(2));
    sim.runFor(300);
    const fits = LookupTable.assign(1, [address(1), address(2), address(forger.id)], 3).toData();
    forger.send('bootstrap.Member', BOOTSTRAP_SERVER, { table: fits });
    sim.runFor(100);
    expect(tables.size).toBe(0);
    expect(host(server).server!.rejected).toEqual({});
    add(nodeId(3));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    expect(tables.get(server)!.address(forger.id)).toBeUndefined();
    expect(tables.get(server)!.address(nodeId(3))).toEqual(address(3));
  });

  it('(g) a check-in cannot move a member’s address once the cluster is formed', () => {
    const { sim, server, tables, serverPeers, add, host, forger } = cluster(13_300, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    forger.send(
      'bootstrap.CheckIn',
      BOOTSTRAP_SERVER,
      { address: address(2, '10.6.6.6'), nonce: 9 },
      nodeId(2),
    );
    sim.runFor(100);
    expect(serverPeers.filter((p) => p.host === '10.6.6.6')).toEqual([]);
    expect(host(server).server!.rejected['check-in-moves-address']).toBe(1);
  });

  it('(g) before formation, an id that checked in keeps its address; a second address for it is refused', () => {
    const { sim, server, tables, serverPeers, add, host, forger } = cluster(13_400, 4);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    sim.runFor(50);
    const until = sim.now + 400;
    const impostor = (): void => {
      forger.send(
        'bootstrap.CheckIn',
        BOOTSTRAP_SERVER,
        { address: address(2, '10.6.6.6'), nonce: 9 },
        nodeId(2),
      );
      if (sim.now < until) sim.after(5, impostor);
    };
    impostor();
    sim.runFor(200);
    add(nodeId(4));
    expect(sim.runUntil(() => tables.size === 4, 2_000)).toBe(true);
    expect(tables.get(nodeId(3))!.address(nodeId(2))).toEqual(address(2));
    expect(serverPeers.filter((p) => p.host === '10.6.6.6')).toEqual([]);
    expect(host(server).server!.rejected['check-in-moves-address']).toBeGreaterThan(0);
  });

  it('(g) a check-in naming another id than its sender, or the bootstrap alias, is refused and counted', () => {
    const { sim, server, tables, add, host, forger } = cluster(13_500, 3);
    for (let i = 1; i <= 3; i++) add(nodeId(i));
    expect(sim.runUntil(() => tables.size === 3, 2_000)).toBe(true);
    forger.send('bootstrap.CheckIn', BOOTSTRAP_SERVER, { address: address(2), nonce: 1 });
    forger.send(
      'bootstrap.CheckIn',
      BOOTSTRAP_SERVER,
      { address: address(BOOTSTRAP_SERVER), nonce: 1 },
      BOOTSTRAP_SERVER,
    );
    sim.runFor(100);
    expect(forger.received).toEqual([]);
    expect(host(server).server!.rejected['check-in-id-mismatch']).toBe(2);
  });
});
