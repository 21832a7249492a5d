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
  /** A clock whose due actions the test runs by hand. */
  function start() {
    const due: (() => void)[] = [];
    const clock: SimClock = {
      now: 0,
      after: (delayMs, action) => {
        expect(delayMs).toBe(0);
        due.push(action);
        return { time: 0, seq: due.length, action, cancelled: false };
      },
      traceLine: () => {},
    };
    const scheduler = new SimScheduler();
    const system = new ComponentSystem({ scheduler, checkInvariants: true });
    const fabric = new SimFabric(clock, new SeededRandom(1));
    const node = system.createRoot(Node, fabric);
    node.start();
    scheduler.runUntilIdle();
    const runDue = (): void => {
      for (const action of due.splice(0)) action();
      scheduler.runUntilIdle();
    };
    return { node, fabric, scheduler, runDue };
  }

  it('is answered in a later step, as TCP answers in a later turn: nothing is held back', () => {
    const { node, scheduler, runDue } = start();
    node.flusher.flush();
    scheduler.runUntilIdle();
    expect(node.flusher.flushed).toBe(0);
    runDue();
    expect(node.flusher.flushed).toBe(1);
  });

  it('is not answered to a node that crashed meanwhile', () => {
    const { node, fabric, scheduler, runDue } = start();
    node.flusher.flush();
    scheduler.runUntilIdle();
    fabric.detach(nodeId(1));
    runDue();
    expect(node.flusher.flushed).toBe(0);
  });
});
