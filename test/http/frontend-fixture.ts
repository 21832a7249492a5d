import { Registry } from 'prom-client';
import {
  ComponentDefinition,
  ComponentSystem,
  LiveScheduler,
  type ComponentContext,
  type ReplyTo,
} from '../../components/kernel/index.js';
import { nodeId } from '../../components/network/node-id.js';
import type { ClusterStatus } from '../../frontend/cluster-status.js';
import { HttpFrontend, type HttpFrontendInit } from '../../frontend/http-frontend.js';
import { Routing, type Route, type Routed } from '../../overlay/routing-port.js';
import { isWrite, type KvOutcome, type KvOperation } from '../../kv/kv-operation.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { MemoryStateDisk, MemoryStateStore } from '../../state/memory-state-store.js';
import { applyLogged } from '../../state/state-store.js';
import { serveRead } from '../../state/range-reads.js';
import { placementOf } from '../../frontend/key-placement.js';
import { txnKeys } from '../../kv/txn.js';
import { Watch } from '../../watch/watch-port.js';
import { FakeWatch } from './fake-watch.js';

/**
 * Stands in for the overlay: an in-memory state machine per group of `cluster` (one when it is
 * not formed), or a forced outcome; while `holding`, requests wait unanswered until `release()`.
 */
export class FakeRouting extends ComponentDefinition {
  readonly routing = this.provides(Routing);
  private readonly machines = new Map<number, MemoryStateStore>();
  readonly seen: KvOperation[] = [];
  forced: KvOutcome | null = null;
  holding = false;
  /** Told of every write applied (FrontendHost feeds it to its FakeWatch). */
  onWrite: (group: number, zxid: number, operation: KvOperation, outcome: KvOutcome) => void =
    () => {};
  private held: [Route, ReplyTo<Routed>][] = [];
  private zxid = 0;

  constructor(
    context: ComponentContext,
    private readonly cluster: ClusterStatus,
  ) {
    super(context);
    this.subscribe(this.routing, 'Route', (route: Route, origin) => {
      this.seen.push(route.operation);
      if (this.holding) this.held.push([route, origin]);
      else this.route(route, origin);
    });
  }

  /** Answers every held request (from outside the component: tests). */
  release(): void {
    this.holding = false;
    for (const [route, origin] of this.held.splice(0)) this.route(route, origin);
  }

  /** The group an operation runs in, as the overlay would place it. */
  private groupOf(operation: KvOperation): number {
    if (operation.op === 'range' || operation.op === 'deleteRange') return operation.group;
    const key = operation.op === 'txn' ? txnKeys(operation)[0]! : operation.key;
    return placementOf(this.cluster, key)?.group ?? 0;
  }

  private machine(group: number): MemoryStateStore {
    let machine = this.machines.get(group);
    if (machine === undefined) {
      machine = new MemoryStateStore(new MemoryStateDisk(new SeededRandom(1)));
      this.machines.set(group, machine);
    }
    return machine;
  }

  private route(route: Route, origin: ReplyTo<Routed>): void {
    const { operation } = route;
    const group = this.groupOf(operation);
    const machine = this.machine(group);
    let outcome = this.forced;
    if (outcome !== null) {
      // forced: nothing applied
    } else if (isWrite(operation)) {
      outcome = applyLogged(machine, ++this.zxid, operation);
      this.onWrite(group, this.zxid, operation, outcome);
    } else outcome = serveRead(machine, operation);
    this.answer(origin, {
      kind: 'Routed',
      id: route.id,
      outcome,
      served: {
        epoch: 3,
        zxid: this.zxid,
        stale: !isWrite(operation) && operation.consistency === 'stale',
        leader: null,
      },
      group,
      node: nodeId(2),
    });
  }
}

export const UNFORMED: ClusterStatus = { formed: false, node: nodeId(1) };

/** A formed cluster of two groups, each owning half the hash space (table version 7). */
export const TWO_GROUPS: ClusterStatus = {
  formed: true,
  node: nodeId(1),
  version: 7,
  groups: [0, 1].map((id) => ({
    id,
    ranges: [{ group: id, start: id * 0x8000_0000, end: (id + 1) * 0x8000_0000 }],
    members: [{ id: nodeId(id + 1) }],
    leader: nodeId(id + 1),
  })),
};

export type FrontendOptions = Partial<Omit<HttpFrontendInit, 'status' | 'registry' | 'node'>> & {
  readonly ready?: boolean;
  /** What `GET /cluster` says and how keys are placed in groups; UNFORMED: one group. */
  readonly cluster?: ClusterStatus;
};

export class FrontendHost extends ComponentDefinition {
  readonly frontend: HttpFrontend;
  readonly router: FakeRouting;
  readonly watch: FakeWatch;
  readonly registry = new Registry();

  constructor(context: ComponentContext, options: FrontendOptions) {
    super(context);
    const { ready, cluster = UNFORMED, ...init } = options;
    this.router = this.create(FakeRouting, cluster);
    this.watch = this.create(FakeWatch, 2);
    this.router.onWrite = (group, zxid, operation, outcome) => {
      const changed = outcome.status === 200 || outcome.status === 204;
      if (changed && operation.op === 'put') {
        const change = { key: operation.key, type: 'put' as const, value: operation.value };
        this.watch.append(group, { zxid, type: 'put', changes: [change] });
      } else if (changed && operation.op === 'delete') {
        const change = { key: operation.key, type: 'delete' as const };
        this.watch.append(group, { zxid, type: 'delete', changes: [change] });
      } else this.watch.advance(group, zxid);
    };
    this.frontend = this.create(HttpFrontend, {
      node: nodeId(1),
      listen: { host: '127.0.0.1', port: 0 },
      maxInFlight: 100,
      ...init,
      status: { ready: () => ready ?? true, cluster: () => cluster },
      registry: this.registry,
    });
    this.connect(this.router.provided(Routing), this.frontend.required(Routing));
    this.connect(this.watch.provided(Watch), this.frontend.required(Watch));
  }
}

const hosts: FrontendHost[] = [];

/** A frontend on a free loopback port, in front of a FakeRouting. */
export async function startFrontend(options: FrontendOptions = {}) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler(), checkInvariants: true });
  const host = system.createRoot(FrontendHost, options);
  hosts.push(host);
  host.start();
  const port = await host.frontend.whenListening();
  return { host, app: host.frontend.server, port };
}

/** For afterEach: kills every frontend started so far. */
export function stopFrontends(): void {
  for (const host of hosts.splice(0)) host.kill();
}
