import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { PeerRejections, type PeerRejectionReason } from '../kv/peer-rejections.js';
import { LookupTable, type NodeAddress } from './lookup-table.js';
import { Bootstrap } from './bootstrap-port.js';
import { BOOTSTRAP_SERVER } from './bootstrap-messages.js';
import { BootstrapStatusPort } from './bootstrap-status-port.js';
import './bootstrap-messages.js';

export interface BootstrapClientInit {
  readonly address: NodeAddress;
  /** The table this node persisted earlier: a restarted node needs no bootstrap server. */
  readonly table: LookupTable | null;
  /** How often to check in while no table is known. */
  readonly checkInMs: number;
  /** How often to tell the bootstrap node the table once known (default 25 × checkInMs). */
  readonly memberMs?: number;
  /** Draws the check-in's nonce, unless `nonce` gives it. */
  readonly random: SeededRandom;
  /**
   * The nonce this data directory checks in with (kept by the host until its table comes: a
   * restart before then is the same founding member, a wiped directory a new one).
   */
  readonly nonce?: number;
}

/**
 * Every node's side of bootstrap (DESIGN §5): check in with the server until the lookup
 * table arrives, then announce it on the Bootstrap port and tell the network where every node
 * listens. The host persists what it announces.
 *
 * Only the bootstrap node may hand out the table, and only once: a table is taken only if it
 * carries the nonce of this node's check-in, which went to the bootstrap node's own address
 * (the server names itself by its real id, which anyone can claim on the peer port without
 * TLS), and only while no table is known, since membership is fixed once formed. Anything
 * else is dropped and counted (reference/security.md §1, "bootstrap.Table").
 */
export class BootstrapClient extends ComponentDefinition {
  readonly bootstrap = this.provides(Bootstrap);
  readonly status = this.provides(BootstrapStatusPort);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private readonly rejections = new PeerRejections(this.log);
  private readonly nonce: number;
  private table: LookupTable | null;
  private checkIns: number | null = null;

  constructor(
    context: ComponentContext,
    private readonly init: BootstrapClientInit,
  ) {
    super(context);
    this.table = init.table;
    this.nonce = init.nonce ?? init.random.int(1, 2 ** 48);
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.network, 'bootstrap.Table', (message) => this.onTable(message));
  }

  /** Tables rejected so far, by reason (tests; the host hears BootstrapStatus). */
  get rejected(): Readonly<Record<string, number>> {
    return this.rejections.counts;
  }

  protected override onStart(): void {
    if (this.table !== null) {
      this.announce(this.table, false);
      this.tellMembership();
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
      {
        kind: 'bootstrap.CheckIn',
        src: self,
        dst: BOOTSTRAP_SERVER,
        address: this.init.address,
        nonce: this.nonce,
      },
      this.network,
    );
  }

  private onTable(message: MessageOf<'bootstrap.Table'>): void {
    const from = message.src;
    if (message.nonce !== this.nonce) {
      this.reject('table-not-from-bootstrap', from, message.table.version);
      return;
    }
    if (this.table !== null) {
      // The bootstrap node answers every check-in: a repeat of the known table is expected.
      if (message.table.version > this.table.version) {
        this.reject('table-after-formation', from, message.table.version);
      }
      return;
    }
    let table: LookupTable;
    try {
      table = LookupTable.from(message.table);
    } catch (error) {
      this.reject('bad-table', from, message.table.version, (error as Error).message);
      return;
    }
    if (table.address(this.init.address.id as NodeId) === undefined) {
      this.excluded(table.version);
      return;
    }
    this.table = table;
    if (this.checkIns !== null) this.timers.cancel(this.checkIns);
    this.checkIns = null;
    this.announce(table, message.founding);
    this.tellMembership();
  }

  /** From now on, tells the bootstrap node the table now and then (bootstrap.Member). */
  private tellMembership(): void {
    const table = this.table!.toData();
    const tell = (): void =>
      this.trigger(
        {
          kind: 'bootstrap.Member',
          src: this.init.address.id as NodeId,
          dst: BOOTSTRAP_SERVER,
          table,
        },
        this.network,
      );
    tell();
    this.timers.every(this.init.memberMs ?? 25 * this.init.checkInMs, tell);
  }

  /**
   * The bootstrap node answered this node's own check-in with a table that does not list it:
   * the cluster formed without it. Said once, at warn; checking in again cannot change that.
   */
  private excluded(version: number): void {
    if (this.checkIns === null) return;
    this.timers.cancel(this.checkIns);
    this.checkIns = null;
    this.log.warn(
      { version },
      'the cluster formed without this node (it is in no group of the lookup table); ' +
        'membership change is not supported yet: start it with a new cluster, or as one of the --cluster-size nodes',
    );
    const rejected = this.rejections.counts;
    this.trigger(
      { kind: 'BootstrapStatus', role: 'client', rejected, excluded: true },
      this.status,
    );
  }

  private reject(reason: PeerRejectionReason, from: NodeId, version: number, why?: string): void {
    this.rejections.reject(reason, { from, version, ...(why === undefined ? {} : { why }) });
    const rejected = this.rejections.counts;
    this.trigger({ kind: 'BootstrapStatus', role: 'client', rejected }, this.status);
  }

  private announce(table: LookupTable, founding: boolean): void {
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
    this.log.info(
      { version: table.version, groups: table.groups.length, founding },
      'lookup table known',
    );
    this.trigger({ kind: 'TableReady', table, founding }, this.bootstrap);
  }
}
