import { describe, expect, it } from 'vitest';
import {
  ComponentDefinition,
  type ComponentContext,
  type Leaf,
} from '../../components/kernel/index.js';
import { Network, type MessageOf } from '../../components/network/network-port.js';
import { nodeId } from '../../components/network/node-id.js';
import { Simulator } from '../../components/sim/index.js';
import { Timer } from '../../components/timer/timer-port.js';
import { TimerClient } from '../../components/timer/timer-client.js';
import './fixtures/chatter.js';

/** A node that logs, with the virtual time it ran them, its ticks, one-shot timeouts and messages. */
class Probe extends ComponentDefinition {
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  readonly events: string[] = [];

  constructor(
    context: ComponentContext,
    private readonly init: { network: Leaf; timer: Leaf; sim: Simulator; oneShotMs: number },
  ) {
    super(context);
    const network = init.network.build((cls, i) => this.create(cls, i));
    const timer = init.timer.build((cls, i) => this.create(cls, i));
    this.connect(network.provided(Network), this.required(Network));
    this.connect(timer.provided(Timer), this.required(Timer));
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.network, 'test.Chat', (m) => this.note(`chat${m.seq}`));
  }

  private note(what: string): void {
    this.events.push(`${what}@${this.init.sim.now}`);
  }

  protected override onStart(): void {
    this.timers.every(50, () => this.note('tick'));
    this.timers.after(this.init.oneShotMs, () => this.note('once'));
  }
}

function probeSim(oneShotMs = 1_000) {
  const sim = new Simulator({ seed: 1, link: { minLatencyMs: 1, maxLatencyMs: 1, lossRate: 0 } });
  const id = nodeId(1);
  sim.addNode(id, (env) =>
    env.system.createRoot(Probe, { network: env.network, timer: env.timer, sim, oneShotMs }),
  );
  const probe = () => sim.rootOf(id) as Probe;
  const chat = (seq: number) =>
    sim.fabric.send({
      kind: 'test.Chat',
      src: nodeId(2),
      dst: id,
      incarnation: 1,
      seq,
      hops: 0,
    } as MessageOf<'test.Chat'>);
  return { sim, id, probe, chat };
}

describe('simulated stalls and timer skew', () => {
  it('a stalled node runs nothing; at the resume what queued runs in order, each periodic timer once', () => {
    const { sim, id, probe, chat } = probeSim(300);
    sim.runFor(120);
    sim.stall(id, 400);
    expect(sim.isStalled(id)).toBe(true);
    sim.after(80, () => chat(1)); // arrives at 201, after the tick due at 150
    sim.after(250, () => chat(2)); // arrives at 371, after the one-shot due at 300
    sim.runFor(399);
    expect(probe().events).toEqual(['tick@50', 'tick@100']);
    sim.runFor(200);
    expect(sim.isStalled(id)).toBe(false);
    // Missed ticks at 150…500 fire once, late, then the period restarts from the resume.
    expect(probe().events).toEqual([
      'tick@50',
      'tick@100',
      'tick@520',
      'chat1@520',
      'once@520',
      'chat2@520',
      'tick@570',
      'tick@620',
      'tick@670',
    ]);
    expect(sim.trace.lastLines().some((line) => line.endsWith(`stall ${id} until 520`))).toBe(true);
  });

  it('a second stall extends the first; resume ends it early', () => {
    const { sim, id, probe } = probeSim();
    sim.runFor(60);
    sim.stall(id, 100);
    sim.runFor(50);
    sim.stall(id, 300); // until 410
    sim.stall(id, 10); // shorter: no change
    sim.runFor(290);
    expect(probe().events).toEqual(['tick@50']);
    expect(sim.isStalled(id)).toBe(true);
    sim.resume(id);
    sim.runFor(60);
    expect(probe().events).toEqual(['tick@50', 'tick@400', 'tick@450']);
  });

  it('a node crashed while stalled restarts running, with nothing it held', () => {
    const { sim, id, probe, chat } = probeSim();
    sim.runFor(60);
    sim.stall(id, 1_000);
    chat(1);
    sim.runFor(100);
    sim.crash(id);
    expect(sim.isStalled(id)).toBe(false);
    sim.restart(id);
    sim.runFor(120);
    expect(probe().events).toEqual(['tick@210', 'tick@260']);
  });

  it("a node's timers run at its own rate, from the next time they are armed", () => {
    const { sim, id, probe } = probeSim();
    sim.runFor(60);
    sim.setTimerRate(id, 2);
    sim.runFor(300);
    expect(sim.timerRate(id)).toBe(2);
    // The tick armed at 50 keeps its time; from 100 on a period is 100 ms.
    expect(probe().events).toEqual(['tick@50', 'tick@100', 'tick@200', 'tick@300']);
    sim.setTimerRate(id, 0.5);
    sim.runFor(100);
    expect(probe().events.slice(4)).toEqual(['tick@400', 'tick@425', 'tick@450']);
    expect(() => sim.setTimerRate(id, 0)).toThrow(RangeError);
  });
});
