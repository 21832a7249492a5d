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

/**
 * Stands in for the overlay: a single in-memory state machine, or a forced outcome; while
 * `holding`, requests wait unanswered until `release()`.
 */
export class FakeRouting extends ComponentDefinition {
  readonly routing = this.provides(Routing);
  readonly machine = new MemoryStateStore(new MemoryStateDisk(new SeededRandom(1)));
  readonly seen: KvOperation[] = [];
  forced: KvOutcome | null = null;
  holding = false;
  private held: [Route, ReplyTo<Routed>][] = [];
  private zxid = 0;

  constructor(context: ComponentContext, _init: void) {
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

  private route(route: Route, origin: ReplyTo<Routed>): void {
    const { operation } = route;
    const outcome =
      this.forced ??
      (isWrite(operation)
        ? applyLogged(this.machine, ++this.zxid, operation)
        : serveRead(this.machine, operation));
    this.answer(origin, {
      kind: 'Routed',
      id: route.id,
      outcome,
      served: {
        epoch: 3,
        zxid: this.zxid,
        stale: operation.op === 'get' && operation.consistency === 'stale',
        leader: null,
      },
      group: 0,
      node: nodeId(2),
    });
  }
}

export const UNFORMED: ClusterStatus = { formed: false, node: nodeId(1) };

export type FrontendOptions = Partial<Omit<HttpFrontendInit, 'status' | 'registry' | 'node'>> & {
  readonly ready?: boolean;
};

export class FrontendHost extends ComponentDefinition {
  readonly frontend: HttpFrontend;
  readonly router: FakeRouting;
  readonly registry = new Registry();

  constructor(context: ComponentContext, options: FrontendOptions) {
    super(context);
    const { ready, ...init } = options;
    this.router = this.create(FakeRouting, undefined);
    this.frontend = this.create(HttpFrontend, {
      node: nodeId(1),
      listen: { host: '127.0.0.1', port: 0 },
      maxInFlight: 100,
      ...init,
      status: { ready: () => ready ?? true, cluster: () => UNFORMED },
      registry: this.registry,
    });
    this.connect(this.router.provided(Routing), this.frontend.required(Routing));
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
