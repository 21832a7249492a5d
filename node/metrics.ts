import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { NodeId } from '../components/network/node-id.js';
import { counterOf, epochOf, type Zxid } from '../kv/zxid.js';
import type { ReplicaObserver } from '../replica/replica-observer.js';
import type { ReplicaStatus } from '../replica/replica-status-port.js';
import type { CopyObserver } from '../state/checkpoint-copies.js';

/**
 * A node's Prometheus metrics (`GET /metrics`). Events that must each be counted come from
 * the replica's observer callbacks, which it calls as they happen; state comes from the
 * replica's ReplicaStatus reports, so a gauge is as fresh as the last report (a tick at most).
 */
export class NodeMetrics {
  /** For the replica's init. Called synchronously from its handlers: only counts. */
  readonly observer: ReplicaObserver;
  /** For the applied state's environment: its checkpoint copies. */
  readonly checkpointCopies: CopyObserver;
  private readonly fsync: Histogram;
  private readonly hasLeader: Gauge;
  private readonly isLeader: Gauge;
  private readonly pending: Gauge;
  private readonly appliedZxid: Gauge;
  private readonly committedZxid: Gauge;
  private readonly lastZxid: Gauge;
  private readonly currentEpoch: Gauge;
  private readonly quotaBytes: Gauge;
  private readonly dbBytes: Gauge;
  private readonly followerAcked: Gauge<'follower'>;
  private readonly followerLag: Gauge<'follower'>;
  private followers = new Set<NodeId>();
  private readonly rejected: Counter<'reason'>;
  /** The rejection counts each source reported last, by `source reason`. */
  private readonly rejectedSeen = new Map<string, number>();
  private readonly divergences: Counter;
  private divergencesSeen = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const leaderChanges = counter(
      'zabkv_leader_changes_seen_total',
      'Leaders this node has seen established in its group',
    );
    const committed = counter(
      'zabkv_proposals_committed_total',
      'Transactions this node applied as committed',
    );
    const failed = counter(
      'zabkv_proposals_failed_total',
      'Proposals left with an unknown outcome when this node stopped leading',
    );
    this.observer = {
      established: () => leaderChanges.inc(),
      role: (_node, role) => {
        if (role === 'following') leaderChanges.inc();
      },
      applied: () => committed.inc(),
      failed: (_node, count) => failed.inc(count),
    };
    this.hasLeader = gauge(
      'zabkv_has_leader',
      '1 when this node follows or is an established leader',
    );
    this.isLeader = gauge('zabkv_is_leader', "1 when this node is its group's established leader");
    this.pending = gauge(
      'zabkv_proposals_pending',
      'Writes this node proposed as leader and has not answered yet',
    );
    this.appliedZxid = gauge('zabkv_applied_zxid', 'The last transaction applied here');
    this.committedZxid = gauge('zabkv_committed_zxid', 'The last transaction known committed');
    this.lastZxid = gauge('zabkv_last_zxid', "The last transaction in this replica's log");
    this.currentEpoch = gauge('zabkv_current_epoch', 'The epoch this replica last followed or led');
    this.quotaBytes = gauge(
      'zabkv_quota_bytes',
      "The group's quota: key and value bytes past which growing writes get 507",
    );
    this.dbBytes = gauge(
      'zabkv_db_bytes',
      "Key and value bytes in this replica's applied state (what the quota counts)",
    );
    this.followerAcked = new Gauge({
      name: 'zabkv_follower_acked_zxid',
      help: 'As leader: the last proposal each follower acknowledged holding durably',
      labelNames: ['follower'],
      registers,
    });
    this.followerLag = new Gauge({
      name: 'zabkv_follower_lag_proposals',
      help: "As leader: proposals in the leader's log a follower has not acknowledged",
      labelNames: ['follower'],
      registers,
    });
    this.rejected = new Counter({
      name: 'zabkv_peer_messages_rejected_total',
      help: 'Messages from peers dropped as impossible or not allowed, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.divergences = counter(
      'zabkv_replica_divergences_total',
      "Times this node's committed history was not its group's and was replaced by the leader's state (acknowledged writes may be lost: see the error log)",
    );
    const copyDuration = new Histogram({
      name: 'zabkv_state_checkpoint_copy_duration_seconds',
      help: 'Time to copy the applied state for a checkpoint (mdb_env_copy, fsync, rename)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const copyBytes = gauge(
      'zabkv_state_checkpoint_copy_bytes',
      "The state file's size at the last checkpoint copy: the most a copy needs free (it is compacted)",
    );
    const copyFailures = counter(
      'zabkv_state_checkpoint_copy_failures_total',
      'Checkpoint copies that failed (no room, an I/O error) and are tried again; the log on disk is not compacted meanwhile',
    );
    this.checkpointCopies = {
      copied: (bytes, durationMs) => {
        copyDuration.observe(durationMs / 1000);
        copyBytes.set(bytes);
      },
      failed: () => copyFailures.inc(),
    };
    this.fsync = new Histogram({
      name: 'zabkv_wal_fsync_duration_seconds',
      help: 'Time from a log write batch to durable on disk (write + fdatasync)',
      buckets: [
        0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1, 2, 4,
      ],
      registers,
    });
  }

  /** A log write batch became durable after `durationMs`. */
  flushed(durationMs: number): void {
    this.fsync.observe(durationMs / 1000);
  }

  /** The replica's latest report. */
  report(status: ReplicaStatus): void {
    const leading = status.role === 'leading';
    this.hasLeader.set(status.serving ? 1 : 0);
    this.isLeader.set(leading && status.serving ? 1 : 0);
    this.pending.set(status.pendingProposals);
    this.appliedZxid.set(status.appliedZxid);
    this.committedZxid.set(status.committedZxid);
    this.lastZxid.set(status.lastZxid);
    this.currentEpoch.set(status.currentEpoch);
    this.quotaBytes.set(status.quotaBytes);
    this.dbBytes.set(status.dbBytes);
    // Followers come and go with sessions: a series for a follower no longer listed (or for
    // any follower, once this node stops leading) is removed, not left at its last value.
    const listed = new Set<NodeId>();
    for (const follower of leading ? status.followers : []) {
      const labels = { follower: String(follower.node) };
      listed.add(follower.node);
      this.followerAcked.set(labels, follower.ackedZxid);
      this.followerLag.set(labels, proposalsBehind(status.lastZxid, follower.ackedZxid));
    }
    for (const node of this.followers) {
      if (listed.has(node)) continue;
      this.followerAcked.remove({ follower: String(node) });
      this.followerLag.remove({ follower: String(node) });
    }
    this.followers = listed;
    this.rejections('replica', status.rejected);
    const added = countedSince(status.divergences, this.divergencesSeen);
    if (added > 0) this.divergences.inc(added);
    this.divergencesSeen = status.divergences;
  }

  /**
   * A component's peer-input rejections so far, by reason (kv/peer-rejections.ts): what grew
   * since its last report is added to the counter.
   */
  rejections(source: string, counts: Readonly<Record<string, number>>): void {
    for (const [reason, count] of Object.entries(counts)) {
      const key = `${source} ${reason}`;
      const seen = this.rejectedSeen.get(key) ?? 0;
      const added = countedSince(count, seen);
      if (added > 0) this.rejected.inc({ reason }, added);
      this.rejectedSeen.set(key, count);
    }
  }
}

/**
 * What a source's running count added since it was `seen`. A count below the last one comes
 * from a new incarnation of the source (a restarted replica): all of it is new.
 */
function countedSince(count: number, seen: number): number {
  return count >= seen ? count - seen : count;
}

/**
 * How many proposals of the leader's log up to `last` a follower that acknowledged `acked`
 * lacks. Counters restart with each epoch, so across epochs only the leader's current epoch
 * can be counted: a lower bound, and a follower still in an older epoch is not synced anyway.
 */
export function proposalsBehind(last: Zxid, acked: Zxid): number {
  if (acked >= last) return 0;
  return epochOf(acked) === epochOf(last) ? last - acked : counterOf(last);
}
