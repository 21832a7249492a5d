import { Registry } from 'prom-client';
import { parseSamples } from '../../bench/scale/node-sampler.js';
import { describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { makeZxid } from '../../kv/zxid.js';
import { NodeMetrics, proposalsBehind } from '../../node/metrics.js';
import { leaderStatus } from './status-fixtures.js';

async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parseSamples(await registry.metrics());
}

describe('NodeMetrics', () => {
  it('keeps the metric names the dashboards and process tests use', async () => {
    const registry = new Registry();
    new NodeMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      [
        'zabkv_applied_zxid',
        'zabkv_committed_zxid',
        'zabkv_current_epoch',
        'zabkv_db_bytes',
        'zabkv_follower_acked_zxid',
        'zabkv_follower_lag_proposals',
        'zabkv_has_leader',
        'zabkv_is_leader',
        'zabkv_last_zxid',
        'zabkv_peer_messages_rejected_total',
        'zabkv_leader_changes_seen_total',
        'zabkv_proposals_committed_total',
        'zabkv_proposals_failed_total',
        'zabkv_proposals_pending',
        'zabkv_quota_bytes',
        'zabkv_replica_divergences_total',
        'zabkv_state_checkpoint_copy_bytes',
        'zabkv_state_checkpoint_copy_duration_seconds',
        'zabkv_state_checkpoint_copy_failures_total',
        'zabkv_wal_fsync_duration_seconds',
      ].sort(),
    );
  });

  it('counts what the observer is told', async () => {
    const registry = new Registry();
    const { observer } = new NodeMetrics(registry);
    const self = nodeId(1);
    observer.role?.(self, 'looking', 1);
    observer.role?.(self, 'following', 1); // a leader found, as follower
    observer.role?.(self, 'leading', 2); // counted when established, not yet
    observer.established?.(self, 2);
    observer.applied?.(self, makeZxid(2, 1), new Uint8Array());
    observer.applied?.(self, makeZxid(2, 2), new Uint8Array());
    observer.failed?.(self, 3);
    const samples = await scrape(registry);
    expect(samples.get('zabkv_leader_changes_seen_total')).toBe(2);
    expect(samples.get('zabkv_proposals_committed_total')).toBe(2);
    expect(samples.get('zabkv_proposals_failed_total')).toBe(3);
  });

  it('shows the last ReplicaStatus, and followers only while leading', async () => {
    const registry = new Registry();
    const metrics = new NodeMetrics(registry);
    metrics.report(leaderStatus());
    let samples = await scrape(registry);
    expect(samples.get('zabkv_has_leader')).toBe(1);
    expect(samples.get('zabkv_is_leader')).toBe(1);
    expect(samples.get('zabkv_proposals_pending')).toBe(1);
    expect(samples.get('zabkv_last_zxid')).toBe(makeZxid(3, 10));
    expect(samples.get('zabkv_committed_zxid')).toBe(makeZxid(3, 9));
    expect(samples.get('zabkv_applied_zxid')).toBe(makeZxid(3, 8));
    expect(samples.get('zabkv_current_epoch')).toBe(3);
    expect(samples.get('zabkv_db_bytes')).toBe(1_234);
    expect(samples.get('zabkv_quota_bytes')).toBe(1 << 20);
    expect(samples.get('zabkv_follower_acked_zxid{follower="3"}')).toBe(makeZxid(3, 7));
    expect(samples.get('zabkv_follower_lag_proposals{follower="2"}')).toBe(0);
    expect(samples.get('zabkv_follower_lag_proposals{follower="3"}')).toBe(3);

    metrics.report(leaderStatus({ followers: leaderStatus().followers.slice(0, 1) }));
    samples = await scrape(registry);
    expect(samples.has('zabkv_follower_lag_proposals{follower="2"}')).toBe(true);
    expect(samples.has('zabkv_follower_lag_proposals{follower="3"}')).toBe(false);

    metrics.report(
      leaderStatus({ role: 'following', leader: nodeId(2), pendingProposals: 0, followers: [] }),
    );
    samples = await scrape(registry);
    expect(samples.get('zabkv_has_leader')).toBe(1);
    expect(samples.get('zabkv_is_leader')).toBe(0);
    expect([...samples.keys()].some((name) => name.startsWith('zabkv_follower_'))).toBe(false);
  });

  it('counts peer input rejected, from every source, by reason', async () => {
    const registry = new Registry();
    const metrics = new NodeMetrics(registry);
    const rejected = (samples: Map<string, number>, reason: string) =>
      samples.get(`zabkv_peer_messages_rejected_total{reason="${reason}"}`);
    metrics.report(leaderStatus({ rejected: { 'not-a-member': 2 } }));
    metrics.rejections('overlay', { 'not-a-member': 1, 'over-limits': 4 });
    metrics.rejections('bootstrap-client', { 'table-not-from-bootstrap': 1 });
    let samples = await scrape(registry);
    expect(rejected(samples, 'not-a-member')).toBe(3);
    expect(rejected(samples, 'over-limits')).toBe(4);
    expect(rejected(samples, 'table-not-from-bootstrap')).toBe(1);
    // Reports carry counts so far: only what grew is added.
    metrics.report(leaderStatus({ rejected: { 'not-a-member': 5 } }));
    metrics.rejections('overlay', { 'not-a-member': 1, 'over-limits': 4 });
    samples = await scrape(registry);
    expect(rejected(samples, 'not-a-member')).toBe(6);
    expect(rejected(samples, 'over-limits')).toBe(4);
  });

  it('counts divergences as they grow, and all of a restarted replica’s', async () => {
    const registry = new Registry();
    const metrics = new NodeMetrics(registry);
    const diverged = async () => (await scrape(registry)).get('zabkv_replica_divergences_total');
    metrics.report(leaderStatus({ divergences: 0 }));
    expect(await diverged()).toBe(0);
    metrics.report(leaderStatus({ divergences: 2 }));
    metrics.report(leaderStatus({ divergences: 2 }));
    expect(await diverged()).toBe(2);
    metrics.report(leaderStatus({ divergences: 1 })); // a new incarnation
    expect(await diverged()).toBe(3);
  });

  it('times checkpoint copies, keeps the last size and counts failures', async () => {
    const registry = new Registry();
    const { checkpointCopies } = new NodeMetrics(registry);
    checkpointCopies.copied(5_000_000, 300);
    checkpointCopies.copied(6_000_000, 200);
    checkpointCopies.failed();
    const samples = await scrape(registry);
    expect(samples.get('zabkv_state_checkpoint_copy_duration_seconds_sum')).toBeCloseTo(0.5);
    expect(samples.get('zabkv_state_checkpoint_copy_duration_seconds_count')).toBe(2);
    expect(samples.get('zabkv_state_checkpoint_copy_bytes')).toBe(6_000_000);
    expect(samples.get('zabkv_state_checkpoint_copy_failures_total')).toBe(1);
  });

  it('observes log flushes in seconds', async () => {
    const registry = new Registry();
    new NodeMetrics(registry).flushed(3);
    const samples = await scrape(registry);
    expect(samples.get('zabkv_wal_fsync_duration_seconds_sum')).toBeCloseTo(0.003);
    expect(samples.get('zabkv_wal_fsync_duration_seconds_bucket{le="0.004"}')).toBe(1);
  });
});

describe('proposalsBehind', () => {
  it('counts within an epoch, and only the current epoch across epochs', () => {
    expect(proposalsBehind(makeZxid(3, 10), makeZxid(3, 10))).toBe(0);
    expect(proposalsBehind(makeZxid(3, 10), makeZxid(3, 4))).toBe(6);
    expect(proposalsBehind(makeZxid(3, 10), makeZxid(2, 900))).toBe(10);
    // A follower that acknowledged NEWLEADER of an epoch with no proposal yet.
    expect(proposalsBehind(makeZxid(2, 5), makeZxid(3, 0))).toBe(0);
  });
});
