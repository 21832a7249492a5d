import {
  ComponentDefinition,
  ComponentSystem,
  SimScheduler,
  portType,
  type ComponentContext,
  type Fault,
  type FaultAction,
} from '../../components/kernel/index.js';

export interface Ping {
  readonly kind: 'Ping';
  readonly n: number;
}
export interface Pong {
  readonly kind: 'Pong';
  readonly n: number;
}
export const PingPong = portType<Ping, Pong>('PingPong');

export function simSystem(
  options: { checkInvariants?: boolean; onRootFault?: (f: Fault) => void } = {},
) {
  const scheduler = new SimScheduler();
  const system = new ComponentSystem({ scheduler, ...options });
  return { system, run: () => scheduler.runUntilIdle() };
}

/** Provides PingPong: answers Ping n with Pong n on every channel; throws on Ping -1. */
export class Ponger extends ComponentDefinition {
  readonly port = this.provides(PingPong);
  readonly seen: number[] = [];
  killed = false;

  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.port, 'Ping', (ping) => {
      if (ping.n === -1) throw new Error('told to fail');
      this.seen.push(ping.n);
      this.trigger({ kind: 'Pong', n: ping.n }, this.port);
    });
  }

  protected override onKill(): void {
    this.killed = true;
  }
}

/** Requires PingPong: sends pings, records pongs. */
export class Pinger extends ComponentDefinition {
  readonly port = this.requires(PingPong);
  readonly pongs: number[] = [];
  started = 0;

  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.port, 'Pong', (pong) => this.pongs.push(pong.n));
  }

  protected override onStart(): void {
    this.started++;
  }

  ping(n: number): void {
    this.trigger({ kind: 'Ping', n }, this.port);
  }
}

/** A parent of one Ponger and one Pinger wired together, with a chosen fault policy. */
export class Pair extends ComponentDefinition {
  readonly ponger: Ponger;
  readonly pinger: Pinger;
  readonly faults: Fault[] = [];

  constructor(
    context: ComponentContext,
    private readonly policy: FaultAction,
  ) {
    super(context);
    this.ponger = this.create(Ponger, undefined);
    this.pinger = this.create(Pinger, undefined);
    this.connect(this.ponger.provided(PingPong), this.pinger.required(PingPong));
  }

  protected override handleFault(fault: Fault): FaultAction {
    this.faults.push(fault);
    return this.policy;
  }
}
