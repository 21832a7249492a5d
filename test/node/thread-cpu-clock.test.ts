import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { openThreadCpuClock } from '../../node/thread-cpu-clock.js';

describe("the thread's CPU clock", () => {
  const clock = openThreadCpuClock();

  it.runIf(clock !== null)(
    'moves while the thread runs, never faster than the wall clock',
    async () => {
      const cpu = clock!;
      const cpuStart = cpu.nowMs();
      const wallStart = performance.now();
      expect(Number.isFinite(cpuStart)).toBe(true);
      // Spin until the thread has run 30 ms (however long the machine makes that take).
      let spins = 0;
      while (cpu.nowMs() - cpuStart < 30 && performance.now() - wallStart < 10_000) spins++;
      const ran = cpu.nowMs() - cpuStart;
      const wall = performance.now() - wallStart;
      expect(spins).toBeGreaterThan(0);
      expect(ran).toBeGreaterThanOrEqual(30);
      // Read a few µs apart, and the run time brought up to date at each read: within 2 ms.
      expect(ran).toBeLessThanOrEqual(wall + 2);
      // Asleep, it runs (almost) nothing: 200 ms of wall time, a few ms at most of the CPU.
      const asleep = cpu.nowMs();
      await sleep(200);
      expect(cpu.nowMs() - asleep).toBeLessThan(100);
      cpu.close();
    },
  );
});
