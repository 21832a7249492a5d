import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { LookupTable, type NodeAddress } from './lookup-table.js';
import { BOOTSTRAP_SERVER } from './bootstrap-messages.js';
import './bootstrap-messages.js';

export interface BootstrapServerInit {
  readonly self: NodeId;
  /** Nodes to wait for before forming the cluster (`--cluster-size`). */
  readonly clusterSize: number;
  /** Replicas per group (`--replication`). */
  readonly replication: number;
  /** A table formed before a restart: the server then only hands it out. */
  readonly table: LookupTable | null;
}

/**
 * The bootstrap node's extra role: collect check-ins until `clusterSize` distinct nodes have
 * come, assign them to groups and send everyone the lookup table; afterwards answer any
 * check-in (a late or restarted node) with the table. Membership is fixed once formed.
 */
export class BootstrapServer extends ComponentDefinition {
  private readonly network = this.requires(Network);
  private readonly checkedIn = new Map<NodeId, NodeAddress>();
  private table: LookupTable | null;

  constructor(
    context: ComponentContext,
    private readonly init: BootstrapServerInit,
  ) {
    super(context);
    if (!(init.clusterSize >= init.replication && init.replication >= 1)) {
      throw new Error(`cluster size ${init.clusterSize} cannot hold groups of ${init.replication}`);
    }
    this.table = init.table;
    this.subscribe(this.network, 'bootstrap.CheckIn', (message) => this.onCheckIn(message));
  }

  private onCheckIn(message: MessageOf<'bootstrap.CheckIn'>): void {
    const { address } = message;
    if (address.id !== message.src || address.id === BOOTSTRAP_SERVER) return;
    const node = address.id as NodeId;
    this.trigger(
      { kind: 'SetPeers', peers: [{ id: node, host: address.peer.host, port: address.peer.port }] },
      this.network,
    );
    if (this.table === null) {
      this.checkedIn.set(node, address);
      this.log.info({ node, joined: this.checkedIn.size, of: this.init.clusterSize }, 'check-in');
      if (this.checkedIn.size < this.init.clusterSize) return;
      this.table = LookupTable.assign(1, [...this.checkedIn.values()], this.init.replication);
      this.log.info({ groups: this.table.groups.length }, 'cluster formed');
      for (const member of this.checkedIn.keys()) this.sendTable(member);
      return;
    }
    if (this.table.address(node) === undefined) {
      this.log.warn({ node }, 'check-in from a node outside the formed cluster: ignored');
      return;
    }
    this.sendTable(node);
  }

  private sendTable(node: NodeId): void {
    this.trigger(
      {
        kind: 'bootstrap.Table',
        src: this.init.self,
        dst: node,
        table: this.table!.toData(),
      },
      this.network,
    );
  }
}
