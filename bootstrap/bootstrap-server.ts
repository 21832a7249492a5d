import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { PeerRejections, type PeerRejectionReason } from '../kv/peer-rejections.js';
import { LookupTable, type NodeAddress } from './lookup-table.js';
import { BOOTSTRAP_SERVER } from './bootstrap-messages.js';
import { BootstrapStatusPort } from './bootstrap-status-port.js';
import './bootstrap-messages.js';

export interface BootstrapServerInit {
  readonly self: NodeId;
  /** Where this node listens: a table taken from a member must list it there. */
  readonly address?: NodeAddress;
  /** Nodes to wait for before forming the cluster (`--cluster-size`). */
  readonly clusterSize: number;
  /** Replicas per group (`--replication`). */
  readonly replication: number;
  /** A table formed before a restart: the server then only hands it out. */
  readonly table: LookupTable | null;
  /** The check-in nonces that table was formed with, kept by the host (founding answers). */
  readonly formation?: ReadonlyMap<NodeId, number> | null;
  /** Called with the formation's nonces before any table goes out: the host keeps them. */
  readonly formed?: (formation: ReadonlyMap<NodeId, number>) => void;
}

/**
 * The bootstrap node's extra role: collect check-ins until `clusterSize` distinct nodes have
 * come, assign them to groups and send everyone the lookup table; afterwards answer any
 * check-in (a late or restarted node) with the table. Membership is fixed once formed.
 *
 * An id keeps the address it first checked in with (before formation) or has in the table
 * (after): a check-in that names it at another address is refused, before the network is told
 * anything, so nobody can re-point a node's link, and a node started with a duplicate `--id`
 * cannot take over the first one's place (reference/security.md §1, "bootstrap check-in").
 */
export class BootstrapServer extends ComponentDefinition {
  readonly status = this.provides(BootstrapStatusPort);
  private readonly network = this.requires(Network);
  /**
   * Who checked in, where, and the nonce their table must carry; kept after formation, when a
   * check-in with the same nonce (its table was lost on the way) is still a founding one.
   */
  private readonly checkedIn = new Map<NodeId, { address: NodeAddress; nonce: number }>();
  private readonly rejections = new PeerRejections(this.log);
  private table: LookupTable | null;
  /**
   * Without a table: the formation's check-ins kept on disk (formation.json outlived the table
   * file), for a table taken from the members to answer them as founding; and the table each
   * member told (bootstrap.Member), as canonical text.
   */
  private readonly keptFormation: ReadonlyMap<NodeId, number>;
  private readonly told = new Map<NodeId, string>();

  constructor(
    context: ComponentContext,
    private readonly init: BootstrapServerInit,
  ) {
    super(context);
    if (!(init.clusterSize >= init.replication && init.replication >= 1)) {
      throw new Error(`cluster size ${init.clusterSize} cannot hold groups of ${init.replication}`);
    }
    this.table = init.table;
    // After a restart: still founding for a member whose table had not gone out.
    for (const [node, nonce] of init.formation ?? []) {
      const address = init.table?.address(node);
      if (address !== undefined) this.checkedIn.set(node, { address, nonce });
    }
    this.keptFormation = init.table === null ? (init.formation ?? new Map()) : new Map();
    this.subscribe(this.network, 'bootstrap.CheckIn', (message) => this.onCheckIn(message));
    this.subscribe(this.network, 'bootstrap.Member', (message) => this.onMember(message));
  }

  /** Check-ins rejected so far, by reason (tests; the host hears BootstrapStatus). */
  get rejected(): Readonly<Record<string, number>> {
    return this.rejections.counts;
  }

  private onCheckIn(message: MessageOf<'bootstrap.CheckIn'>): void {
    const { address, nonce } = message;
    if (address.id !== message.src || address.id === BOOTSTRAP_SERVER) {
      this.reject('check-in-id-mismatch', message.src, address);
      return;
    }
    const node = address.id as NodeId;
    const known =
      this.table === null ? this.checkedIn.get(node)?.address : this.table.address(node);
    if (known === undefined && this.table !== null) {
      // Counted, and answered with the table so the node learns it was left out (it stops
      // checking in); it holds nothing /cluster does not show any client.
      this.reject('check-in-not-member', node, address);
      this.trigger(
        {
          kind: 'SetPeers',
          peers: [{ id: node, host: address.peer.host, port: address.peer.port }],
        },
        this.network,
      );
      this.sendTable(node, nonce, false);
      return;
    }
    if (known !== undefined && !sameAddress(known, address)) {
      this.reject('check-in-moves-address', node, address);
      return;
    }
    this.trigger(
      { kind: 'SetPeers', peers: [{ id: node, host: address.peer.host, port: address.peer.port }] },
      this.network,
    );
    if (this.table !== null) {
      this.log.debug({ node }, 'check-in after formation: the table sent again');
      this.sendTable(node, nonce, this.checkedIn.get(node)?.nonce === nonce);
      return;
    }
    this.checkedIn.set(node, { address, nonce });
    if (known === undefined) {
      this.log.info({ node, joined: this.checkedIn.size, of: this.init.clusterSize }, 'check-in');
    } else {
      this.log.debug({ node }, 'check-in repeated');
    }
    if (this.checkedIn.size < this.init.clusterSize) return;
    const addresses = [...this.checkedIn.values()].map((c) => c.address);
    this.table = LookupTable.assign(1, addresses, this.init.replication);
    this.init.formed?.(new Map([...this.checkedIn].map(([node, c]) => [node, c.nonce])));
    this.log.info({ groups: this.table.groups.length }, 'cluster formed');
    for (const [member, checkIn] of this.checkedIn) this.sendTable(member, checkIn.nonce, true);
  }

  /**
   * A member of a formed cluster tells its table. Nothing to do for a server that has one; one
   * without it lost its data directory (or its table file) after the cluster formed, since
   * members get their tables only from a server that formed or held one: it takes the table
   * rather than wait for check-ins that never come. It cannot tell that apart from a cluster
   * still forming, where one forged frame must not decide the table (without TLS a sender's id
   * is only a claim): it takes only the table `assign` makes of the same nodes, with every node
   * checked in so far where it checked in, once a majority of its nodes told it alike. No
   * check-in is answered as founding after this but those of the formation kept on disk: this
   * node's own new stores, like every wiped node's, sync before they vote (ZOOKEEPER-261).
   */
  private onMember(message: MessageOf<'bootstrap.Member'>): void {
    if (this.table !== null) return;
    const from = message.src;
    const why = this.unfit(message.table, from);
    if (why !== null) {
      this.count(why.reason, { from, why: why.text });
      return;
    }
    const table = LookupTable.from(message.table);
    const text = JSON.stringify(table.toData());
    // Bounded: senders of forged tables come and go, the members tell again every few seconds.
    if (!this.told.has(from) && this.told.size >= 4 * this.init.clusterSize) {
      this.told.delete(this.told.keys().next().value!);
    }
    this.told.set(from, text);
    const alike = [...this.told.values()].filter((told) => told === text).length;
    if (alike <= table.nodes.length / 2) return;
    this.table = table;
    this.told.clear();
    this.checkedIn.clear();
    for (const [node, nonce] of this.keptFormation) {
      const address = table.address(node);
      if (address !== undefined) this.checkedIn.set(node, { address, nonce });
    }
    this.log.warn(
      { version: table.version, groups: table.groups.length, toldBy: alike },
      'this bootstrap node had no lookup table but the cluster was formed (its data directory was lost): it takes the table its members hold; its stores re-sync from their groups before they vote',
    );
  }

  /** Why a table a member told cannot be this cluster's, or null. */
  private unfit(data: unknown, from: NodeId): { reason: PeerRejectionReason; text: string } | null {
    let table: LookupTable;
    try {
      table = LookupTable.from(data);
    } catch (error) {
      return { reason: 'bad-table', text: (error as Error).message };
    }
    if (table.address(from) === undefined) {
      return { reason: 'not-in-table', text: 'the sender is not in the table it sent' };
    }
    const own = table.address(this.init.self);
    if (
      own === undefined ||
      (this.init.address !== undefined && !sameAddress(own, this.init.address))
    ) {
      return { reason: 'bad-table', text: 'the table does not list this node where it listens' };
    }
    if (
      table.nodes.length !== this.init.clusterSize ||
      table.address(BOOTSTRAP_SERVER) !== undefined
    ) {
      return {
        reason: 'bad-table',
        text: `the table has ${table.nodes.length} nodes (--cluster-size ${this.init.clusterSize}) or the bootstrap alias`,
      };
    }
    const formed = LookupTable.assign(1, table.nodes, this.init.replication);
    if (JSON.stringify(formed.toData()) !== JSON.stringify(table.toData())) {
      return { reason: 'bad-table', text: 'not the table this node forms of those nodes' };
    }
    for (const [node, { address }] of this.checkedIn) {
      const listed = table.address(node);
      if (listed === undefined || !sameAddress(listed, address)) {
        return { reason: 'bad-table', text: `node ${node} checked in, not where the table says` };
      }
    }
    return null;
  }

  private reject(reason: PeerRejectionReason, from: NodeId, address: NodeAddress): void {
    const peer = `${address.peer.host}:${address.peer.port}`;
    this.count(reason, { from, id: address.id, peer });
  }

  private count(reason: PeerRejectionReason, details: Record<string, unknown>): void {
    this.rejections.reject(reason, details);
    const rejected = this.rejections.counts;
    this.trigger({ kind: 'BootstrapStatus', role: 'server', rejected }, this.status);
  }

  private sendTable(node: NodeId, nonce: number, founding: boolean): void {
    this.trigger(
      {
        kind: 'bootstrap.Table',
        src: this.init.self,
        dst: node,
        table: this.table!.toData(),
        nonce,
        founding,
      },
      this.network,
    );
  }
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return (
    a.peer.host === b.peer.host &&
    a.peer.port === b.peer.port &&
    a.http.host === b.http.host &&
    a.http.port === b.http.port
  );
}
