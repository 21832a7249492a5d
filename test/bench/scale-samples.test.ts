import { describe, expect, it } from 'vitest';
import { loopStallsBetween } from '../../bench/scale/loop-stalls.js';
import { leaderChangesBetween, parseSamples } from '../../bench/scale/node-sampler.js';

describe('bench:scale metrics helpers', () => {
  it('reads the samples of a Prometheus text exposition, labelled ones with their labels', () => {
    const text = [
      '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      'nodejs_heap_size_used_bytes 52428800',
      'nodejs_eventloop_lag_max_seconds 0.0123',
      'nodejs_heap_space_size_used_bytes{space="old"} 1000',
      'zabkv_leader_changes_seen_total 3',
      'broken_line',
      'not_a_number NaN',
    ].join('\n');
    expect([...parseSamples(text)]).toEqual([
      ['nodejs_heap_size_used_bytes', 52428800],
      ['nodejs_eventloop_lag_max_seconds', 0.0123],
      ['nodejs_heap_space_size_used_bytes{space="old"}', 1000],
      ['zabkv_leader_changes_seen_total', 3],
    ]);
  });

  it("counts the long turns and GC pauses between two readings from the nodes' histograms", () => {
    const node = (
      turns: number,
      over50: number,
      over100: number,
      lean: number,
      gc: number,
      onCpu?: number,
    ) =>
      parseSamples(
        [
          `zabkv_slow_handler_turn_seconds_bucket{le="0.02"} 0`,
          `zabkv_slow_handler_turn_seconds_bucket{le="0.05"} ${turns - over50}`,
          `zabkv_slow_handler_turn_seconds_bucket{le="0.1"} ${turns - over100}`,
          `zabkv_slow_handler_turn_seconds_bucket{le="+Inf"} ${turns}`,
          `zabkv_slow_handler_turn_seconds_count ${turns}`,
          // Of the same turns, `lean` are still over 20 ms less their GC.
          `zabkv_slow_handler_turn_without_gc_seconds_bucket{le="0.02"} ${turns - lean}`,
          `zabkv_slow_handler_turn_without_gc_seconds_count ${turns}`,
          `zabkv_gc_pause_seconds_bucket{le="0.02"} ${100 - gc}`,
          `zabkv_gc_pause_seconds_count 100`,
          // With --measure-turn-cpu, `onCpu` of them over 20 ms on the CPU.
          ...(onCpu === undefined
            ? []
            : [
                `zabkv_slow_handler_turn_on_cpu_seconds_bucket{le="0.02"} ${turns - onCpu}`,
                `zabkv_slow_handler_turn_on_cpu_seconds_count ${turns}`,
              ]),
        ].join('\n'),
      );
    const first = [node(5, 2, 1, 1, 3), node(9, 0, 0, 0, 0), node(40, 10, 5, 4, 2)];
    const last = [node(8, 3, 1, 2, 4), null, node(2, 1, 0, 1, 1)];
    // Node 2 did not answer at the end (left out, counted as not read); node 3 restarted:
    // counted from its start.
    expect(loopStallsBetween(first, last, 30, 3)).toEqual({
      turns: 3 + 2,
      turnsOver50: 1 + 1,
      turnsOver100: 0,
      turnsWithoutGc: 1 + 1,
      turnsOnCpu: null,
      gcPausesOver20: 1 + 1,
      loopDelayMaxMs: 30,
      nodesNotRead: 1,
    });
    // Time on the CPU is counted only where every node read measures it.
    const measured = [node(5, 2, 1, 1, 3, 1), node(9, 0, 0, 0, 0, 0), node(4, 1, 0, 1, 1, 0)];
    const measuredLast = [node(8, 3, 1, 2, 4, 2), node(10, 0, 0, 0, 0, 0), node(6, 1, 0, 1, 1, 2)];
    expect(loopStallsBetween(measured, measuredLast, 30).turnsOnCpu).toBe(1 + 0 + 2);
    expect(loopStallsBetween(first, measuredLast, 30).turnsOnCpu).toBeNull();
    // Without the restart, node 3's counts going down are not negative stalls.
    expect(loopStallsBetween(first, last, 30).turns).toBe(3);
    // A node not read at the start is left out too, not counted from its process's start.
    expect(loopStallsBetween([null, null, null], last, 30)).toMatchObject({
      turns: 0,
      nodesNotRead: 3,
    });
    // A node without the histograms is not read as "no stalls".
    expect(loopStallsBetween([parseSamples('x 1')], [parseSamples('x 2')], 0).nodesNotRead).toBe(1);
    // A bound that is not a bucket of the histogram is an error, not "all of them".
    const noBucket = parseSamples(
      [
        'zabkv_slow_handler_turn_seconds_count 4',
        'zabkv_slow_handler_turn_seconds_bucket{le="0.1"} 4',
      ].join('\n'),
    );
    expect(() => loopStallsBetween([noBucket], [noBucket], 0)).toThrow(/no bucket le=0.05/);
  });

  it('counts the leader changes the most any node saw, leaving out restarted nodes', () => {
    expect(leaderChangesBetween([1, 1, 2], [1, 1, 2])).toBe(0);
    expect(leaderChangesBetween([1, 1, 2], [2, 2, 3])).toBe(1);
    // Node 3 restarted (its counter began again) and node 2 did not answer the second time.
    expect(leaderChangesBetween([1, 1, 5], [3, null, 1])).toBe(2);
    expect(leaderChangesBetween([null, 1, 1], [4, 1, 1])).toBe(0);
  });
});
