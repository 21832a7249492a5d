import { describe, expect, it } from 'vitest';
import { ComponentSystem, SimScheduler } from '../../components/kernel/index.js';
import { Pair } from './fixtures.js';

function pausable() {
  const scheduler = new SimScheduler();
  const system = new ComponentSystem({ scheduler });
  return { scheduler, system, run: () => scheduler.runUntilIdle() };
}

describe('SimScheduler pause', () => {
  it("holds a paused tree's events, runs them in order at resume, and lets other trees run", () => {
    const { scheduler, system, run } = pausable();
    const stopped = system.createRoot(Pair, 'escalate');
    const running = system.createRoot(Pair, 'escalate');
    stopped.start();
    running.start();
    run();
    stopped.pinger.ping(1);
    scheduler.pause(stopped);
    stopped.pinger.ping(2);
    running.pinger.ping(7);
    expect(run()).toBeGreaterThan(0);
    expect(running.pinger.pongs).toEqual([7]);
    expect(stopped.ponger.seen).toEqual([]);
    expect(scheduler.isPaused(stopped)).toBe(true);
    stopped.pinger.ping(3);
    run();
    expect(stopped.ponger.seen).toEqual([]);
    scheduler.resume(stopped);
    run();
    expect(stopped.ponger.seen).toEqual([1, 2, 3]);
    expect(stopped.pinger.pongs).toEqual([1, 2, 3]);
    expect(scheduler.isPaused(stopped)).toBe(false);
  });

  it('holds control events too (a stopped process does not start), and drops a killed tree', () => {
    const { scheduler, system, run } = pausable();
    const late = system.createRoot(Pair, 'escalate');
    scheduler.pause(late);
    late.start();
    run();
    expect(late.pinger.started).toBe(0);
    scheduler.resume(late);
    run();
    expect(late.pinger.started).toBe(1);

    const killed = system.createRoot(Pair, 'escalate');
    killed.start();
    run();
    scheduler.pause(killed);
    killed.pinger.ping(1);
    run();
    killed.kill();
    scheduler.resume(killed);
    run();
    expect(killed.ponger.seen).toEqual([]);
    expect(killed.ponger.killed).toBe(true);
  });
});
