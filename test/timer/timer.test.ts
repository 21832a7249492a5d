import { describe, expect, it, vi } from 'vitest';
import {
  ComponentDefinition,
  ComponentSystem,
  LiveScheduler,
  type ComponentContext,
} from '../../components/kernel/index.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { LiveTimer } from '../../components/timer/live-timer.js';
import { TimerClient } from '../../components/timer/timer-client.js';
import { Timer } from '../../components/timer/timer-port.js';

class Sleeper extends ComponentDefinition {
  private readonly timer = this.requires(Timer);
  readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  readonly fired: string[] = [];
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
  }
}

class TwoSleepers extends ComponentDefinition {
  readonly a: Sleeper;
  readonly b: Sleeper;
  readonly clock: LiveTimer;
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.clock = this.create(LiveTimer, undefined);
    this.a = this.create(Sleeper, undefined);
    this.b = this.create(Sleeper, undefined);
    for (const s of [this.a, this.b]) this.connect(this.clock.provided(Timer), s.required(Timer));
  }
}

function start() {
  const system = new ComponentSystem({ scheduler: new LiveScheduler() });
  const root = system.createRoot(TwoSleepers, undefined);
  root.start();
  return root;
}

describe('LiveTimer with TimerClient', () => {
  it('fires one-shots once, periodics until cancelled, and each only to its requester', async () => {
    const root = start();
    const { a, b } = root;
    a.timers.after(5, () => a.fired.push('once'));
    const cancelled = a.timers.after(10, () => a.fired.push('never'));
    a.timers.cancel(cancelled);
    const tick = b.timers.every(5, () => b.fired.push('tick'));
    await vi.waitFor(() => expect(b.fired.length).toBeGreaterThanOrEqual(3));
    b.timers.cancel(tick);
    const ticks = b.fired.length;
    // A later one-shot proves time passed; no tick arrived after the cancel, "never" never fired.
    let later = false;
    a.timers.after(30, () => (later = true));
    await vi.waitFor(() => expect(later).toBe(true));
    expect(b.fired).toHaveLength(ticks);
    expect(a.fired).toEqual(['once']);
    expect(b.fired.every((f) => f === 'tick')).toBe(true);
    root.kill();
  });

  it('kill clears every pending timer', () => {
    const root = start();
    root.a.timers.every(1_000, () => {});
    root.a.timers.after(1_000, () => {});
    const active = (root.clock as unknown as { active: Map<number, unknown> }).active;
    return vi
      .waitFor(() => expect(active.size).toBe(2))
      .then(() => {
        root.kill();
        expect(active.size).toBe(0);
      });
  });
});

describe('SeededRandom', () => {
  it('replays from its seed, forks reproducibly, and keeps int bounds inclusive', () => {
    const draw = (r: SeededRandom) => Array.from({ length: 20 }, () => r.int(0, 1_000_000));
    expect(draw(new SeededRandom(5))).toEqual(draw(new SeededRandom(5)));
    expect(draw(new SeededRandom(5))).not.toEqual(draw(new SeededRandom(6)));
    expect(draw(new SeededRandom(5).fork('x'))).toEqual(draw(new SeededRandom(5).fork('x')));
    expect(draw(new SeededRandom(5).fork('x'))).not.toEqual(draw(new SeededRandom(5).fork('y')));
    const r = new SeededRandom(1);
    const seen = new Set(Array.from({ length: 200 }, () => r.int(1, 3)));
    expect([...seen].sort()).toEqual([1, 2, 3]);
    const f = Array.from({ length: 1000 }, () => r.float());
    expect(Math.min(...f)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...f)).toBeLessThan(1);
  });
});
