import { describe, expect, it } from 'vitest';
import { cpuUsedBetween, processCpu } from '../../bench/process-cpu.js';

describe('processCpu', () => {
  it.runIf(process.platform === 'linux')(
    'reads this process: its main thread used some CPU',
    () => {
      const before = processCpu(process.pid)!;
      const until = performance.now() + 50;
      let spin = 0;
      while (performance.now() < until) spin++;
      const after = processCpu(process.pid)!;
      expect(spin).toBeGreaterThan(0);
      expect(after.mainMs).toBeGreaterThan(before.mainMs);
      expect(after.otherMs).toBeGreaterThanOrEqual(before.otherMs);
    },
  );

  it('is null for a process that does not exist', () => {
    expect(processCpu(-1)).toBeNull();
  });
});

describe('cpuUsedBetween', () => {
  it('sums what each process used; null when any reading is missing', () => {
    const before = [
      { mainMs: 10, otherMs: 1 },
      { mainMs: 20, otherMs: 2 },
    ];
    const after = [
      { mainMs: 15, otherMs: 4 },
      { mainMs: 30, otherMs: 2 },
    ];
    expect(cpuUsedBetween(before, after)).toEqual({ mainMs: 15, otherMs: 3 });
    expect(cpuUsedBetween([before[0]!, null], after)).toBeNull();
  });
});
