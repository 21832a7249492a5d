import { describe, expect, it } from 'vitest';
import { table, verdict } from '../../bench/scale/section.js';
import type { Measured, ScaleRun } from '../../bench/scale/zabkv-scale.js';

function measured(throughput: number, p999: number): Measured {
  return {
    result: {
      target: 'zabkv',
      ops: throughput * 10,
      durationSec: 10,
      throughput,
      latency: { p50: 5, p90: 10, p99: 20, p999, max: p999 * 2, mean: 6 },
      errors: {},
      timeline: [],
      distribution: [],
    },
    errors: 0,
    leaderChanges: 0,
  };
}

function run(keys: number, throughput: number, slowTurnMaxSec: number): ScaleRun {
  const node = {
    heapBytes: 200 * 2 ** 20,
    rssBytes: 400 * 2 ** 20,
    eventLoopLagMaxSec: 0.05,
    gcPauseMaxSec: 0.012,
    slowTurnWithoutGcMaxSec: 0,
  };
  return {
    system: 'zabkv',
    data: { keys, valueSize: 100 },
    preload: { seconds: 1, errors: 0 },
    writes: measured(throughput, 80),
    reads: measured(throughput * 2, 60),
    nodes: [
      { ...node, slowTurnMaxSec: 0 },
      {
        ...node,
        slowTurnMaxSec,
        gcPauseMaxSec: slowTurnMaxSec * 0.9,
        slowTurnWithoutGcMaxSec: slowTurnMaxSec * 0.2,
      },
      { ...node, slowTurnMaxSec: 0 },
    ],
  };
}

describe('the scale section', () => {
  it('checks the longest handler turn any node reported against 20 ms', () => {
    const lines = verdict([run(10_000, 3_000, 0), run(1_000_000, 2_900, 0.0345)]);
    expect(lines[0]).toContain('met: longest handler turn < 20 ms');
    expect(lines[1]).toContain('**not met**: longest handler turn 35 ms');
    expect(lines[1]).toContain('met: writes/s 97 % of 10,000 × 100 B');
    expect(lines[1]).toContain('met: p99.9 80 ms');
  });

  it('shows the event-loop delay, the longest handler turn (without its GC) and GC pause in one column', () => {
    const [, , zero, slow] = table([run(10_000, 3_000, 0), run(1_000_000, 2_900, 0.0345)]);
    expect(zero).toContain('| 50 / < 20 / 12 |');
    expect(slow).toContain('| 50 / 35 (6.9) / 31 |');
  });

  it("shows the disk's writes and the WAL's mean flush of the write phase, or a dash", () => {
    const busy = run(1_000_000, 2_900, 0);
    const withIo: ScaleRun = {
      ...busy,
      writes: {
        ...busy.writes,
        disk: { megabytesPerSec: 45.4, iosPerSec: 10_250 },
        walFsyncMs: 2.125,
      },
    };
    const [header, , unknown, known] = table([run(10_000, 3_000, 0), withIo]);
    expect(header).toContain('| leader changes | disk writes MB/s (IO/s) / WAL fsync ms');
    expect(unknown).toContain('| 0 | – / – |');
    expect(known).toContain('| 0 | 45 (10,250) / 2.13 |');
  });
});
