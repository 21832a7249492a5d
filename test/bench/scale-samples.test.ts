import { describe, expect, it } from 'vitest';
import { leaderChangesBetween, parseSamples } from '../../bench/scale/node-sampler.js';

describe('bench:scale metrics helpers', () => {
  it('reads the unlabelled samples of a Prometheus text exposition', () => {
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
      ['zabkv_leader_changes_seen_total', 3],
    ]);
  });

  it('counts the leader changes the most any node saw, leaving out restarted nodes', () => {
    expect(leaderChangesBetween([1, 1, 2], [1, 1, 2])).toBe(0);
    expect(leaderChangesBetween([1, 1, 2], [2, 2, 3])).toBe(1);
    // Node 3 restarted (its counter began again) and node 2 did not answer the second time.
    expect(leaderChangesBetween([1, 1, 5], [3, null, 1])).toBe(2);
    expect(leaderChangesBetween([null, 1, 1], [4, 1, 1])).toBe(0);
  });
});
