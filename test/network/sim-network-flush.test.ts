import { describe, expect, it } from 'vitest';
import {
  ComponentDefinition,
  ComponentSystem,
  SimScheduler,
  type ComponentContext,
} from '../../components/kernel/index.js';
import { Network } from '../../components/network/network-port.js';
import { nodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { SimFabric, SimNetwork, type SimClock } from '../../components/sim/index.js';

/** Sends Flush and counts Flushed. */
class Flusher extends ComponentDefinition {
  private readonly network = this.requires(Network);
  flushed = 0;

  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.network, 'Flushed', () => this.flushed++);
  }

  flush(): void {
    this.trigger({ kind: 'Flush' }, this.network);
  }
}

class Node extends ComponentDefinition {
  readonly flusher = this.create(Flusher, undefined);

  constructor(context: ComponentContext, fabric: SimFabric) {
    super(context);
    const network = this.create(SimNetwork, { self: nodeId(1), fabric });
    this.connect(network.provided(Network), this.flusher.required(Network));
  }
}

describe('Flush on the simulated network', () => {
  it('is answered at once: the fabric holds nothing back', () => {
    const clock: SimClock = {
      now: 0,
      after: () => {
        throw new Error('a Flush schedules nothing');
      },
      traceLine: () => {},
    };
    const scheduler = new SimScheduler();
    const system = new ComponentSystem({ scheduler, checkInvariants: true });
    const node = system.createRoot(Node, new SimFabric(clock, new SeededRandom(1)));
    node.start();
    scheduler.runUntilIdle();
    node.flusher.flush();
    scheduler.runUntilIdle();
    expect(node.flusher.flushed).toBe(1);
  });
});
