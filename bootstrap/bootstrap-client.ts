import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { LookupTable, type NodeAddress } from './lookup-table.js';
import { Bootstrap } from './bootstrap-port.js';
import { BOOTSTRAP_SERVER } from './bootstrap-messages.js';
import './bootstrap-messages.js';

export interface BootstrapClientInit {
  readonly address: NodeAddress;
  /** The table this node persisted earlier: a restarted node needs no bootstrap server. */
  readonly table: LookupTable | null;
  /** How often to check in while no table is known. */
  readonly checkInMs: number;
}

/**
 * Every node's side of bootstrap (DESIGN §5): check in with the server until the lookup
 * table arrives, then announce it (and any newer version) on the Bootstrap port and tell the
 * network where every node listens. The host persists what it announces.
 */
export class BootstrapClient extends ComponentDefinition {
  readonly bootstrap = this.provides(Bootstrap);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private table: LookupTable | null;
  private checkIns: number | null = null;

  constructor(
    context: ComponentContext,
    private readonly init: BootstrapClientInit,
  ) {
    super(context);
    this.table = init.table;
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.network, 'bootstrap.Table', (message) => this.onTable(message));
  }

  protected override onStart(): void {
    if (this.table !== null) {
      this.announce(this.table);
      return;
    }
    this.checkIn();
    this.checkIns = this.timers.every(this.init.checkInMs, () => this.checkIn());
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  private checkIn(): void {
    const self = this.init.address.id as NodeId;
    this.trigger(
      { kind: 'bootstrap.CheckIn', src: self, dst: BOOTSTRAP_SERVER, address: this.init.address },
      this.network,
    );
  }

  private onTable(message: MessageOf<'bootstrap.Table'>): void {
    let table: LookupTable;
    try {
      table = LookupTable.from(message.table);
    } catch (error) {
      this.log.warn({ from: message.src, err: (error as Error).message }, 'bad lookup table');
      return;
    }
    if (this.table !== null && table.version <= this.table.version) return;
    if (table.address(this.init.address.id as NodeId) === undefined) {
      this.log.warn({ version: table.version }, 'lookup table without this node: ignored');
      return;
    }
    this.table = table;
    if (this.checkIns !== null) this.timers.cancel(this.checkIns);
    this.checkIns = null;
    this.announce(table);
  }

  private announce(table: LookupTable): void {
    this.trigger(
      {
        kind: 'SetPeers',
        peers: table.nodes.map((n) => ({
          id: n.id as NodeId,
          host: n.peer.host,
          port: n.peer.port,
        })),
      },
      this.network,
    );
    this.log.info({ version: table.version, groups: table.groups.length }, 'lookup table known');
    this.trigger({ kind: 'TableReady', table }, this.bootstrap);
  }
}
