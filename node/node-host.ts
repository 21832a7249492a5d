import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import {
  EventuallyPerfectFailureDetector,
  FailureDetector,
  failureDetectorMessages,
} from '../components/fd/index.js';
import { MessageCatalogue } from '../components/network/message-catalogue.js';
import { Network } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import { TcpNetwork } from '../components/network/tcp-network.js';
import { SeededRandom } from '../components/random/seeded-random.js';
import type { StoreKind } from '../components/storage/disk-store.js';
import { LmdbStorage } from '../components/storage/lmdb-storage.js';
import { WalStorage } from '../components/storage/wal-storage.js';
import { Storage } from '../components/storage/index.js';
import { LiveTimer } from '../components/timer/live-timer.js';
import { Timer } from '../components/timer/timer-port.js';
import { BootstrapClient } from '../bootstrap/bootstrap-client.js';
import { BOOTSTRAP_SERVER, bootstrapMessages } from '../bootstrap/bootstrap-messages.js';
import { Bootstrap } from '../bootstrap/bootstrap-port.js';
import { BootstrapServer } from '../bootstrap/bootstrap-server.js';
import { HttpFrontend } from '../frontend/http-frontend.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import { Overlay } from '../overlay/overlay.js';
import { overlayMessages } from '../overlay/overlay-messages.js';
import { Routing } from '../overlay/routing-port.js';
import { Kv } from '../kv/kv-port.js';
import { Replica } from '../replica/replica.js';
import { DEFAULT_REPLICA_TIMING, type ReplicaConfig } from '../replica/replica-config.js';
import { zabMessages } from '../replica/zab-messages.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The bootstrap node forms the cluster; every other node knows only its address. */
export type BootstrapRole =
  | { readonly role: 'server'; readonly clusterSize: number; readonly replication: number }
  | { readonly role: 'client'; readonly server: Endpoint };

export interface NodeHostInit {
  readonly self: NodeId;
  readonly clusterId: string;
  readonly peer: Endpoint;
  readonly http: Endpoint;
  readonly dataDir: string;
  /** The replica's store (default `wal`). */
  readonly storage?: StoreKind;
  readonly bootstrap: BootstrapRole;
  /** The table persisted before a restart, if any. */
  readonly savedTable: LookupTable | null;
  /** Called with every newer table; the caller persists it. */
  readonly saveTable: (table: LookupTable) => void;
  readonly registry: Registry;
  readonly seed: number;
  readonly timing?: Partial<ReplicaConfig>;
  /** A log flush slower than this is logged at warn (ZooKeeper's fsync.warningthresholdms). */
  readonly slowFsyncMs?: number;
}

const catalogue = new MessageCatalogue(
  zabMessages,
  overlayMessages,
  bootstrapMessages,
  failureDetectorMessages,
);

/**
 * One node (DESIGN §1): TCP network, timer, failure detector, bootstrap, overlay and the HTTP
 * frontend from the start; the replica of this node's group and its store once the
 * lookup table says which group that is.
 */
export class NodeHost extends ComponentDefinition {
  readonly network: TcpNetwork;
  readonly frontend: HttpFrontend;
  readonly overlay: Overlay;
  private readonly tables = this.requires(Bootstrap);
  private readonly timer: LiveTimer;
  private replica: Replica | null = null;
  private storage: LmdbStorage | WalStorage | null = null;
  private readonly random: SeededRandom;
  private readonly leaderChanges: Counter;
  private readonly hasLeader: Gauge;
  private readonly applied: Counter;
  private readonly failedProposals: Counter;
  private readonly fsync: Histogram;

  constructor(
    context: ComponentContext,
    private readonly init: NodeHostInit,
  ) {
    super(context);
    this.random = new SeededRandom(init.seed);
    const isServer = init.bootstrap.role === 'server';
    this.network = this.create(TcpNetwork, {
      self: init.self,
      clusterId: init.clusterId,
      listen: init.peer,
      peers:
        init.bootstrap.role === 'client'
          ? [{ id: BOOTSTRAP_SERVER, ...init.bootstrap.server }]
          : [{ id: BOOTSTRAP_SERVER, ...init.peer }],
      catalogue,
      aliases: isServer ? [BOOTSTRAP_SERVER] : [],
    });
    this.timer = this.create(LiveTimer, undefined);
    const detector = this.create(EventuallyPerfectFailureDetector, {
      self: init.self,
      peers: [],
      heartbeatMs: 100,
      initialTimeoutTicks: 5,
      timeoutIncrementTicks: 2,
    });
    const client = this.create(BootstrapClient, {
      address: { id: init.self, peer: init.peer, http: init.http },
      table: init.savedTable,
      checkInMs: 200,
    });
    this.overlay = this.create(Overlay, {
      self: init.self,
      tickMs: 100,
      requestTimeoutTicks: 50,
      leaderQueryTicks: 10,
      random: this.random.fork('overlay'),
    });
    this.frontend = this.create(HttpFrontend, {
      node: init.self,
      listen: init.http,
      registry: init.registry,
      maxInFlight: 20_000,
      status: { ready: () => this.ready(), cluster: () => this.clusterStatus() },
    });
    for (const user of [detector, client, this.overlay]) {
      this.connect(this.network.provided(Network), user.required(Network));
      this.connect(this.timer.provided(Timer), user.required(Timer));
    }
    if (init.bootstrap.role === 'server') {
      const server = this.create(BootstrapServer, {
        self: init.self,
        clusterSize: init.bootstrap.clusterSize,
        replication: init.bootstrap.replication,
        table: init.savedTable,
      });
      this.connect(this.network.provided(Network), server.required(Network));
    }
    this.connect(client.provided(Bootstrap), this.overlay.required(Bootstrap));
    this.connect(client.provided(Bootstrap), this.required(Bootstrap));
    this.connect(detector.provided(FailureDetector), this.overlay.required(FailureDetector));
    this.connect(this.overlay.provided(Routing), this.frontend.required(Routing));
    this.subscribe(this.tables, 'TableReady', ({ table }) => this.onTable(table));

    this.leaderChanges = new Counter({
      name: 'zabkv_leader_changes_seen_total',
      help: 'Leaders this node has seen established in its group',
      registers: [init.registry],
    });
    this.hasLeader = new Gauge({
      name: 'zabkv_has_leader',
      help: '1 when this node follows or is an established leader',
      registers: [init.registry],
      collect: () => this.hasLeader.set(this.replica?.serving === true ? 1 : 0),
    });
    this.applied = new Counter({
      name: 'zabkv_proposals_committed_total',
      help: 'Transactions this node applied as committed',
      registers: [init.registry],
    });
    this.failedProposals = new Counter({
      name: 'zabkv_proposals_failed_total',
      help: 'Proposals left with an unknown outcome when this node stopped leading',
      registers: [init.registry],
    });
    const pending: Gauge = new Gauge({
      name: 'zabkv_proposals_pending',
      help: 'Writes this node proposed as leader and has not answered yet',
      registers: [init.registry],
      collect: (): void => pending.set(this.replica?.pendingProposals ?? 0),
    });
    this.fsync = new Histogram({
      name: 'zabkv_wal_fsync_duration_seconds',
      help: 'Time from a log write batch to durable on disk (write + fdatasync)',
      buckets: [
        0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2, 4,
      ],
      registers: [init.registry],
    });
  }

  private onTable(table: LookupTable): void {
    this.init.saveTable(table);
    if (this.replica !== null) return;
    const group = table.groupOfNode(this.init.self);
    if (group === undefined) {
      this.log.warn('this node is in no group of the lookup table: serving as a router only');
      return;
    }
    const slowMs = this.init.slowFsyncMs ?? 1_000;
    const settings = {
      path: join(this.init.dataDir, `group-${group.id}`),
      // Only a founding member's new store may vote at once. A node restarting from its saved
      // table with no store (a wiped disk, or a switch of --storage) holds none of the history
      // it may have acknowledged: it must sync before it counts (ZOOKEEPER-261).
      initialize: this.init.savedTable === null,
      onFlushed: (durationMs: number, writes: number) => {
        this.fsync.observe(durationMs / 1000);
        if (durationMs > slowMs) this.log.warn({ durationMs, writes }, 'slow log flush (fsync)');
      },
    };
    const storage =
      this.init.storage === 'lmdb'
        ? this.create(LmdbStorage, settings)
        : this.create(WalStorage, { ...settings, path: `${settings.path}.wal` });
    this.storage = storage;
    this.replica = this.create(Replica, {
      ...DEFAULT_REPLICA_TIMING,
      ...this.init.timing,
      group: group.id,
      self: this.init.self,
      members: group.members,
      random: this.random.fork(`replica-${group.id}`),
      observer: {
        established: () => this.leaderChanges.inc(),
        role: (_node, role) => role === 'following' && this.leaderChanges.inc(),
        applied: () => this.applied.inc(),
        failed: (_node, count) => this.failedProposals.inc(count),
      },
    });
    this.connect(this.network.provided(Network), this.replica.required(Network));
    this.connect(this.timer.provided(Timer), this.replica.required(Timer));
    this.connect(storage.provided(Storage), this.replica.required(Storage));
    this.connect(this.replica.provided(Kv), this.overlay.required(Kv));
  }

  /** Ready: this node's group serves here, and it knows a leader for every other group. */
  private ready(): boolean {
    return this.replica?.serving === true && this.overlay.allLeadersKnown();
  }

  private clusterStatus(): unknown {
    const table = this.overlay.lookupTable;
    if (table === null) return { formed: false, node: this.init.self };
    const mine = table.groupOfNode(this.init.self)?.id;
    return {
      formed: true,
      node: this.init.self,
      version: table.version,
      groups: table.groups.map((group) => ({
        id: group.id,
        ranges: table.ranges().filter((r) => r.group === group.id),
        members: group.members.map((id) => ({ id, http: table.address(id)?.http })),
        leader:
          group.id === mine ? (this.replica?.leaderId ?? null) : this.overlay.knownLeader(group.id),
        ...(group.id === mine && this.replica !== null
          ? {
              epoch: this.replica.currentEpoch,
              lastZxid: this.replica.history.last,
              appliedZxid: this.replica.machine.appliedZxid,
              role: this.replica.roleName,
            }
          : {}),
      })),
    };
  }

  /**
   * SIGTERM: new requests get 503, those in flight finish (up to `graceMs`), a leader ends its
   * sessions so its followers elect another at once, and the store closes.
   */
  async shutdown(graceMs: number): Promise<void> {
    await Promise.race([this.frontend.drain(), sleep(graceMs)]);
    this.replica?.resign();
    // Let the Close messages leave before the sockets go.
    await sleep(50);
    const storage = this.storage;
    this.kill();
    await storage?.whenClosed();
  }
}
