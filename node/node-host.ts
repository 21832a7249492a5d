import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import { EventuallyPerfectFailureDetector, FailureDetector } from '../components/fd/index.js';
import { Network } from '../components/network/network-port.js';
import { TcpNetwork } from '../components/network/tcp-network.js';
import { PeerFaults } from '../components/network/peer-faults.js';
import { SeededRandom } from '../components/random/seeded-random.js';
import type { LmdbStorage } from '../components/storage/lmdb-storage.js';
import type { WalStorage } from '../components/storage/wal-storage.js';
import { Storage } from '../components/storage/index.js';
import { LmdbStateEnvironment } from '../state/lmdb-state-environment.js';
import { LiveTimer } from '../components/timer/live-timer.js';
import { Timer } from '../components/timer/timer-port.js';
import { BootstrapClient } from '../bootstrap/bootstrap-client.js';
import { BOOTSTRAP_SERVER } from '../bootstrap/bootstrap-messages.js';
import { Bootstrap } from '../bootstrap/bootstrap-port.js';
import { BootstrapServer } from '../bootstrap/bootstrap-server.js';
import { BootstrapStatusPort } from '../bootstrap/bootstrap-status-port.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import { HttpFrontend } from '../frontend/http-frontend.js';
import { Overlay } from '../overlay/overlay.js';
import { Routing } from '../overlay/routing-port.js';
import { RoutingStatusPort } from '../overlay/routing-status-port.js';
import { Kv } from '../kv/kv-port.js';
import { Replica } from '../replica/replica.js';
import { AppliedChanges } from '../replica/applied-changes-port.js';
import { Watch } from '../watch/watch-port.js';
import { WatchService } from '../watch/watch-service.js';
import { WatchStatusPort } from '../watch/watch-status-port.js';
import { ReplicaStatusPort } from '../replica/replica-status-port.js';
import { StatusBoard } from './cluster-status.js';
import { appliedStatePath } from './group-data.js';
import { createGroupStore } from './group-store.js';
import { peerMessages } from './peer-messages.js';
import { registerNetworkMetrics } from './network-metrics.js';
import { BOOTSTRAP_ROLE } from './peer-tls-files.js';
import { NodeMetrics } from './metrics.js';
import { WatchMetrics } from './watch-metrics.js';
import { UiRecorder } from './ui-recorder.js';
import * as defaults from './node-defaults.js';
import type { NodeHostInit } from './node-host-init.js';
import { ShutdownSequence, within } from './shutdown-sequence.js';

/**
 * One node (DESIGN §1): TCP network, timer, failure detector, bootstrap, overlay and the HTTP
 * frontend from the start; the replica of this node's group and its store once the lookup
 * table says which group that is. It only wires them: what it shows (/readyz, /cluster,
 * /metrics) comes from its children's reports on its own required ports.
 */
export class NodeHost extends ComponentDefinition {
  readonly network: TcpNetwork;
  readonly frontend: HttpFrontend;
  private readonly tables = this.requires(Bootstrap);
  private readonly replicaStatus = this.requires(ReplicaStatusPort);
  private readonly routingStatus = this.requires(RoutingStatusPort);
  private readonly bootstrapStatus = this.requires(BootstrapStatusPort);
  private readonly watchStatus = this.requires(WatchStatusPort);
  private readonly net = this.requires(Network);
  private readonly timer: LiveTimer;
  private readonly overlay: Overlay;
  private readonly watches: WatchService;
  private readonly random: SeededRandom;
  private readonly board: StatusBoard;
  private readonly metrics: NodeMetrics;
  private readonly ui: UiRecorder;
  private readonly shutdownSequence: ShutdownSequence;
  private replica: Replica | null = null;
  private storage: LmdbStorage | WalStorage | null = null;
  private readonly stateEnvironment: LmdbStateEnvironment;

  constructor(
    context: ComponentContext,
    private readonly init: NodeHostInit,
  ) {
    super(context);
    this.random = new SeededRandom(init.seed);
    this.board = new StatusBoard(init.self);
    this.metrics = new NodeMetrics(init.registry);
    this.ui = new UiRecorder(init.self);
    const bootstrap = init.bootstrap;
    const faults = init.faultInjection === true ? new PeerFaults() : undefined;
    this.network = this.create(TcpNetwork, {
      ...(faults === undefined ? {} : { faults }),
      self: init.self,
      clusterId: init.clusterId,
      listen: init.peer,
      peers: [
        { id: BOOTSTRAP_SERVER, ...(bootstrap.role === 'client' ? bootstrap.server : init.peer) },
      ],
      catalogue: peerMessages,
      aliases: bootstrap.role === 'server' ? [BOOTSTRAP_SERVER] : [],
      // The bootstrap node's certificate carries the bootstrap role, which lets it answer for
      // the alias: a joining node dials the alias and accepts only that certificate.
      ...(init.peerTls === undefined
        ? {}
        : { tls: { ...init.peerTls, roles: { [BOOTSTRAP_ROLE]: BOOTSTRAP_SERVER } } }),
    });
    registerNetworkMetrics(init.registry, this.network.stats);
    this.timer = this.create(LiveTimer, undefined);
    const detector = this.create(EventuallyPerfectFailureDetector, {
      self: init.self,
      peers: [],
      ...defaults.FAILURE_DETECTOR_TIMING,
    });
    const client = this.create(BootstrapClient, {
      address: { id: init.self, peer: init.peer, http: init.http },
      table: init.savedTable,
      checkInMs: defaults.CHECK_IN_MS,
      random: this.random.fork('bootstrap'),
      ...(init.checkInNonce === undefined ? {} : { nonce: init.checkInNonce }),
    });
    this.overlay = this.create(Overlay, {
      self: init.self,
      ...defaults.OVERLAY_TIMING,
      random: this.random.fork('overlay'),
    });
    this.watches = this.create(WatchService, {
      self: init.self,
      ...defaults.WATCH_TIMING,
      history: { ...defaults.WATCH_HISTORY, ...init.watchHistory },
      random: this.random.fork('watch'),
    });
    this.frontend = this.create(HttpFrontend, {
      node: init.self,
      listen: init.http,
      registry: init.registry,
      maxInFlight: defaults.MAX_IN_FLIGHT,
      status: { ready: () => this.board.ready(), cluster: () => this.board.cluster() },
      ...(init.httpTls === undefined ? {} : { tls: init.httpTls }),
      ...(init.tokens === undefined ? {} : { tokens: init.tokens }),
      ...(init.httpLimits === undefined ? {} : { limits: init.httpLimits }),
      ...(faults === undefined ? {} : { faults }),
      ui: {
        nodeView: (since) => ({
          node: init.self,
          at: Date.now(),
          status: this.board.cluster(),
          ...this.ui.view(since),
        }),
        served: (group, status, ms) => this.ui.served(group, status, ms),
      },
    });
    for (const user of [detector, client, this.overlay, this.watches]) {
      this.connect(this.network.provided(Network), user.required(Network));
      this.connect(this.timer.provided(Timer), user.required(Timer));
    }
    if (bootstrap.role === 'server') {
      const server = this.create(BootstrapServer, {
        self: init.self,
        address: { id: init.self, peer: init.peer, http: init.http },
        clusterSize: bootstrap.clusterSize,
        replication: bootstrap.replication,
        table: init.savedTable,
        ...(init.formation === undefined
          ? {}
          : { formation: init.formation.saved, formed: init.formation.save }),
      });
      this.connect(this.network.provided(Network), server.required(Network));
      this.connect(server.provided(BootstrapStatusPort), this.required(BootstrapStatusPort));
    }
    this.connect(client.provided(BootstrapStatusPort), this.required(BootstrapStatusPort));
    this.connect(client.provided(Bootstrap), this.overlay.required(Bootstrap));
    this.connect(client.provided(Bootstrap), this.required(Bootstrap));
    this.connect(client.provided(Bootstrap), this.watches.required(Bootstrap));
    this.connect(this.watches.provided(WatchStatusPort), this.required(WatchStatusPort));
    this.connect(detector.provided(FailureDetector), this.overlay.required(FailureDetector));
    this.connect(this.overlay.provided(Routing), this.frontend.required(Routing));
    this.connect(this.watches.provided(Watch), this.frontend.required(Watch));
    this.connect(this.overlay.provided(RoutingStatusPort), this.required(RoutingStatusPort));
    // The host sends only Flush and hears only Flushed, which comes straight back to it: no
    // peer message is copied to it.
    this.connect(this.network.provided(Network), this.required(Network), {
      indications: () => false,
    });
    this.shutdownSequence = new ShutdownSequence(() => this.trigger({ kind: 'Flush' }, this.net));
    this.subscribe(this.tables, 'TableReady', ({ table, founding }) =>
      this.onTable(table, founding),
    );
    this.subscribe(this.routingStatus, 'RoutingStatus', (s) => {
      this.board.routingStatus(s);
      this.metrics.rejections('overlay', s.rejected);
    });
    this.subscribe(this.bootstrapStatus, 'BootstrapStatus', (s) => {
      this.metrics.rejections(`bootstrap-${s.role}`, s.rejected);
      if (s.excluded === true) this.init.onExcluded?.();
    });
    this.subscribe(this.replicaStatus, 'ReplicaStatus', (status) => {
      this.board.replicaStatus(status);
      this.metrics.report(status);
      this.ui.replicaStatus(status);
      this.shutdownSequence.replicaReported(status);
    });
    this.subscribe(this.net, 'Flushed', () => this.shutdownSequence.flushed());
    const watchMetrics = new WatchMetrics(init.registry);
    this.subscribe(this.watchStatus, 'WatchStatus', (s) => {
      watchMetrics.report(s);
      this.metrics.rejections('watch', s.rejected);
    });
    // Opened here, before the node's loop runs anything: putting a checkpoint copy back after
    // a power loss, and lmdb's open, took 26-43 ms of one handler turn in onTable (a 1 GB copy
    // would take seconds). One environment per node, whichever groups it comes to host (a
    // router-only node's stays empty); last, so that nothing in the constructor throws after it.
    this.stateEnvironment = new LmdbStateEnvironment(appliedStatePath(init.dataDir), {
      log: this.log,
      copies: this.metrics.checkpointCopies,
      ...(init.checkpointBytes === undefined ? {} : { checkpointLogBytes: init.checkpointBytes }),
    });
  }

  private onTable(table: LookupTable, founding: boolean): void {
    this.init.saveTable(table);
    this.board.tableReady(table);
    if (this.replica !== null) return;
    const group = table.groupOfNode(this.init.self);
    if (group === undefined) {
      this.log.warn('this node is in no group of the lookup table: serving as a router only');
      return;
    }
    const storage = createGroupStore((cls, init) => this.create(cls, init), {
      kind: this.init.storage ?? 'wal',
      dataDir: this.init.dataDir,
      group: group.id,
      founding: this.init.savedTable === null && founding,
      slowFsyncMs: this.init.slowFsyncMs ?? defaults.SLOW_FSYNC_MS,
      ...(this.init.minFreeBytes === undefined ? {} : { minFreeBytes: this.init.minFreeBytes }),
      flushed: (durationMs) => {
        this.metrics.flushed(durationMs);
        if (durationMs >= (this.init.slowFsyncMs ?? defaults.SLOW_FSYNC_MS)) {
          this.ui.slowFsync(durationMs);
        }
      },
      log: this.log,
    });
    this.storage = storage;
    const replica = this.create(Replica, {
      ...defaults.replicaTiming(this.init.timing),
      ...(this.init.quotaBytes === undefined ? {} : { quotaBytes: this.init.quotaBytes }),
      group: group.id,
      self: this.init.self,
      members: group.members,
      random: this.random.fork(`replica-${group.id}`),
      observer: { ...this.metrics.observer, restored: (_node, zxid) => this.ui.restored(zxid) },
      state: this.stateEnvironment.store(group.id),
    });
    this.replica = replica;
    this.connect(this.network.provided(Network), replica.required(Network));
    this.connect(this.timer.provided(Timer), replica.required(Timer));
    this.connect(storage.provided(Storage), replica.required(Storage));
    this.connect(replica.provided(Kv), this.overlay.required(Kv));
    this.connect(replica.provided(AppliedChanges), this.watches.required(AppliedChanges));
    this.connect(replica.provided(ReplicaStatusPort), this.watches.required(ReplicaStatusPort));
    this.connect(replica.provided(ReplicaStatusPort), this.required(ReplicaStatusPort));
  }

  /**
   * SIGTERM: new requests get 503 and those in flight finish (up to `graceMs`); the replica
   * is stopped, so a leader ends its followers' sessions and they elect another at once; the
   * network hands those last messages to the sockets; then everything is killed and the
   * store closes.
   */
  async shutdown(graceMs: number): Promise<void> {
    await within(graceMs, this.frontend.drain());
    const replica = this.replica;
    const stop = replica === null ? null : () => replica.stop();
    const flushed = this.shutdownSequence.stopThenFlush(stop);
    if (!(await within(defaults.SHUTDOWN_FLUSH_TIMEOUT_MS, flushed))) {
      this.log.warn('the replica did not stop, or the network did not flush, in time: closing');
    }
    const storage = this.storage;
    this.kill();
    await storage?.whenClosed();
    await this.stateEnvironment.close();
  }
}
