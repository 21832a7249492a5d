import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ThreadTimes } from '../../components/kernel/index.js';
import { openThreadTimes, readSchedstat } from '../../node/thread-times.js';

describe("the thread's scheduler times", () => {
  const reader = openThreadTimes();

  it.runIf(reader !== null)(
    'time on the CPU moves while the thread runs, never faster than the wall clock; waiting for a core never goes back',
    async () => {
      const times = reader!;
      const now: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };
      const read = () => {
        times.read(now);
        return { ...now };
      };
      const start = read();
      const wallStart = performance.now();
      expect(Number.isFinite(start.onCpuMs)).toBe(true);
      expect(start.waitingMs).toBeGreaterThanOrEqual(0);
      // Spin until the thread has run 30 ms (however long the machine makes that take).
      let spins = 0;
      while (read().onCpuMs - start.onCpuMs < 30 && performance.now() - wallStart < 10_000) spins++;
      const end = read();
      const wall = performance.now() - wallStart;
      expect(spins).toBeGreaterThan(0);
      expect(end.onCpuMs - start.onCpuMs).toBeGreaterThanOrEqual(30);
      // Read a few µs apart, and the run time brought up to date at each read: within 2 ms.
      expect(end.onCpuMs - start.onCpuMs).toBeLessThanOrEqual(wall + 2);
      // Time on the CPU and waiting for it never add up to more than the wall time between.
      expect(end.onCpuMs - start.onCpuMs + (end.waitingMs - start.waitingMs)).toBeLessThanOrEqual(
        wall + 2,
      );
      expect(end.waitingMs).toBeGreaterThanOrEqual(start.waitingMs);
      // Asleep, it runs (almost) nothing: 200 ms of wall time, a few ms at most of the CPU.
      const asleep = read();
      await sleep(200);
      expect(read().onCpuMs - asleep.onCpuMs).toBeLessThan(100);
      times.close();
    },
  );

  it('reads the two first fields of schedstat in ns, NaN for one that is missing or not a number', () => {
    const times: ThreadTimes = { onCpuMs: 0, waitingMs: 0 };
    const parse = (text: string) => {
      const bytes = Buffer.from(`${text}\u0000\u0000`, 'latin1');
      readSchedstat(bytes, text.length, times);
      return { ...times };
    };
    expect(parse('536009136 777601 4211\n')).toEqual({ onCpuMs: 536.009136, waitingMs: 0.777601 });
    expect(parse('12000000 3000000')).toEqual({ onCpuMs: 12, waitingMs: 3 });
    expect(parse('12000000')).toEqual({ onCpuMs: 12, waitingMs: NaN });
    expect(parse('12x00 5 1')).toEqual({ onCpuMs: NaN, waitingMs: NaN });
    expect(parse(' 5 1')).toEqual({ onCpuMs: NaN, waitingMs: NaN });
    expect(parse('')).toEqual({ onCpuMs: NaN, waitingMs: NaN });
  });
});
