// Each @ts-expect-error below is a compile error the kernel's types must produce; `tsc` (run by
// `npm run typecheck` in CI) fails if any of them stops being an error.
import { describe, expect, it } from 'vitest';
import {
  ComponentDefinition,
  portType,
  type ComponentContext,
} from '../../components/kernel/index.js';
import { Timer } from '../../components/timer/timer-port.js';
import { PingPong, Pinger, simSystem } from './fixtures.js';

const Other = portType<{ readonly kind: 'Ask' }, { readonly kind: 'Tell' }>('Other');

class Provider extends ComponentDefinition {
  readonly port = this.provides(PingPong);
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.port, 'Ping', () => {});
    // @ts-expect-error a provider does not handle its own indications
    this.subscribe(this.port, 'Pong', () => {});
    // @ts-expect-error no such event kind on this port
    this.subscribe(this.port, 'Nope', () => {});
  }
  directions(): void {
    this.trigger({ kind: 'Pong', n: 1 }, this.port);
    // @ts-expect-error a provider does not send requests
    this.trigger({ kind: 'Ping', n: 1 }, this.port);
    // @ts-expect-error an event of another port type
    this.trigger({ kind: 'Tell' }, this.port);
  }
}

class Requirer extends ComponentDefinition {
  readonly port = this.requires(PingPong);
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.port, 'Pong', () => {});
    // @ts-expect-error a requirer does not handle requests
    this.subscribe(this.port, 'Ping', () => {});
  }
  directions(): void {
    this.trigger({ kind: 'Ping', n: 1 }, this.port);
    // @ts-expect-error a requirer does not send indications
    this.trigger({ kind: 'Pong', n: 1 }, this.port);
  }
}

class Wiring extends ComponentDefinition {
  constructor(context: ComponentContext, _init: void) {
    super(context);
    const provider = this.create(Provider, undefined);
    const requirer = this.create(Requirer, undefined);
    this.connect(provider.provided(PingPong), requirer.required(PingPong));
    // @ts-expect-error a channel joins two ends of the same port type
    this.connect(provider.provided(PingPong), requirer.required(Other));
    // @ts-expect-error provided to provided
    this.connect(provider.provided(PingPong), provider.provided(PingPong));
  }
}

describe('port directions', () => {
  it('are checked at runtime too, where types cannot reach', () => {
    const { system } = simSystem();
    const pinger = system.createRoot(Pinger, undefined);
    expect(() => pinger.provided(PingPong)).toThrow(/is required/);
    expect(() => pinger.required(Timer)).toThrow(/has no port Timer/);
    expect(() => system.createRoot(Wiring, undefined)).toThrow(/has no port Other/);
  });
});
