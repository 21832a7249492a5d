import { describe, expect, it } from 'vitest';
import type { LoopStalls } from '../../bench/scale/loop-stalls.js';
import { roundsTable, stallTable, table, verdict } from '../../bench/scale/section.js';
import { medianRatio, medianThroughput, type WriteRound } from '../../bench/scale/write-rounds.js';
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

  it('judges the turn target on the load phases once the nodes report them per phase', () => {
    const quiet: LoopStalls = {
      turns: 0,
      turnsOver50: 0,
      turnsOver100: 0,
      turnsWithoutGc: 0,
      turnsOnCpu: null,
      gcPausesOver20: 0,
      loopDelayMaxMs: 12.5,
      nodesNotRead: 0,
    };
    const base = run(1_000_000, 2_900, 0.09);
    const calm: ScaleRun = {
      ...base,
      writes: { ...base.writes, stalls: quiet },
      reads: { ...base.reads, stalls: quiet },
    };
    // The run's longest turn (its nodes' start) is 90 ms, but none came under load.
    expect(verdict([calm])[0]).toContain('met: 0 handler turns of 20 ms or more under load');
    const busy: ScaleRun = {
      ...calm,
      snap: {
        seconds: 3,
        during: {
          ...base.writes,
          stalls: { ...quiet, turns: 7, turnsOver50: 2, turnsWithoutGc: 3, gcPausesOver20: 1 },
        },
      },
    };
    expect(verdict([busy])[0]).toContain(
      '**not met**: 7 handler turns of 20 ms or more under load (3 without their GC)',
    );
    const [header, , writes, reads, snap] = stallTable([busy]);
    expect(header).toContain('| phase | handler turns of 20 ms or more (over 50 / over 100 ms) |');
    expect(writes).toBe('| 1,000,000 × 100 B | writes | 0 (0 / 0) | 0 | – | 0 | 13 |');
    expect(reads).toContain('| reads (90 % lin.) |');
    expect(snap).toBe('| 1,000,000 × 100 B | writes during SNAP | 7 (2 / 0) | 3 | – | 1 | 13 |');
    // With the nodes' time on the CPU measured in every phase, the target is judged on it: a
    // turn long only because it waited for a core is not a handler that runs long.
    const measured = (stalls: LoopStalls): LoopStalls => ({ ...stalls, turnsOnCpu: 0 });
    const waited: ScaleRun = {
      ...busy,
      writes: { ...busy.writes, stalls: measured(quiet) },
      reads: { ...busy.reads, stalls: measured(quiet) },
      snap: {
        ...busy.snap!,
        during: { ...busy.snap!.during, stalls: measured(busy.snap!.during.stalls!) },
      },
    };
    expect(verdict([waited])[0]).toContain(
      'met: 0 handler turns over 20 ms on the CPU under load (wall time: 7 handler turns of 20 ms or more under load (3 without their GC))',
    );
    expect(stallTable([waited])[4]).toBe(
      '| 1,000,000 × 100 B | writes during SNAP | 7 (2 / 0) | 3 | 0 | 1 | 13 |',
    );
    const ran: ScaleRun = {
      ...waited,
      reads: { ...waited.reads, stalls: { ...measured(quiet), turns: 1, turnsOnCpu: 1 } },
    };
    expect(verdict([ran])[0]).toContain('**not met**: 1 handler turns over 20 ms on the CPU');
    // One phase unmeasured: judged on the wall time.
    const mixed: ScaleRun = { ...waited, reads: { ...waited.reads, stalls: quiet } };
    expect(verdict([mixed])[0]).toContain(
      '**not met**: 7 handler turns of 20 ms or more under load',
    );
    // A node not read at a phase's end could be the one that stalled: never "met" then.
    const unread: ScaleRun = {
      ...calm,
      reads: { ...calm.reads, stalls: { ...quiet, nodesNotRead: 1 } },
    };
    expect(verdict([unread])[0]).toContain(
      '**not met**: 0 handler turns of 20 ms or more under load (0 without their GC, 1 node not read)',
    );
    expect(stallTable([unread])[3]).toContain('| 0 (0 / 0), 1 node not read |');
    // A run whose nodes reported no histograms: no table, the whole run's longest judged.
    expect(stallTable([base])).toEqual([]);
    expect(verdict([base])[0]).toContain('**not met**: longest handler turn 90 ms');
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
    // The SNAP phase: its writes/s, p99.9 and the disk's writes and WAL flushes beside them.
    const synced: ScaleRun = {
      ...withIo,
      snap: {
        seconds: 19.4,
        during: {
          ...measured(2_150, 633),
          disk: { megabytesPerSec: 120.2, iosPerSec: 3_000 },
          walFsyncMs: 9.5,
        },
      },
    };
    expect(table([synced])[2]).toMatch(
      /\| 19\.4 \| 2,150 \(0 err, 0 lc\) \| 633 \| 120 \(3,000\) \/ 9\.50 \|$/,
    );
    expect(unknown).toMatch(/\| – \| – \| – \| – \|$/);
  });

  it('judges writes/s between sets on the median of the interleaved rounds, the long phase beside it', () => {
    const small = { keys: 10_000, valueSize: 100 };
    const large = { keys: 1_000_000, valueSize: 100 };
    const round = (k: number, data: typeof small, throughput: number): WriteRound => ({
      round: k,
      data,
      throughput,
      p999: 40,
      errors: 0,
    });
    // Round 2's machine was slow for both sets: its own ratio is still 95 %.
    const rounds = [
      round(1, small, 7_000),
      round(1, large, 6_160),
      round(2, small, 5_000),
      round(2, large, 4_750),
      round(3, small, 6_800),
      round(3, large, 6_256),
    ];
    expect(medianRatio(rounds, large, small)).toBeCloseTo(0.92, 5);
    expect(medianThroughput(rounds, large)).toBe(6_160);
    expect(medianRatio(rounds, { keys: 5_000_000, valueSize: 100 }, small)).toBeNull();
    const runs = [run(10_000, 3_000, 0), run(1_000_000, 2_580, 0)];
    expect(verdict(runs)[1]).toContain('**not met**: writes/s 86 % of 10,000 × 100 B');
    expect(verdict(runs, rounds)[1]).toContain(
      'met: writes/s 92 % of 10,000 × 100 B (median of 3 interleaved rounds; 86 % in the one long phase)',
    );
    const slower = rounds.map((r) =>
      r.data === large ? { ...r, throughput: r.throughput * 0.9 } : r,
    );
    expect(verdict(runs, slower)[1]).toContain(
      '**not met**: writes/s 83 % of 10,000 × 100 B (median',
    );
    const [header, , base, big] = roundsTable(runs, rounds);
    expect(header).toContain('| round 3: writes/s (p99.9 ms, errors) | median writes/s |');
    expect(base).toBe(
      '| 10,000 × 100 B | 7,000 (40, 0) | 5,000 (40, 0) | 6,800 (40, 0) | 6,800 | – |',
    );
    expect(big).toBe(
      '| 1,000,000 × 100 B | 6,160 (40, 0) | 4,750 (40, 0) | 6,256 (40, 0) | 6,160 | 92 % |',
    );
    expect(roundsTable(runs, [])).toEqual([]);
  });
});
