import { epochOf, type Zxid } from '../kv/zxid.js';
import { inPieces, type LeaderOutgoing } from './learner-handler.js';
import type { ReplicaLog } from './replica-log.js';

/** How the leader brings one follower to its history (LearnerHandler.syncFollower). */
export type SyncPlan =
  | { readonly kind: 'diff'; readonly from: Zxid }
  | { readonly kind: 'trunc'; readonly to: Zxid }
  /** `divergedAt`: the common point, when the follower had committed beyond it. */
  | { readonly kind: 'snap'; readonly divergedAt?: Zxid };

/** A follower's history as its ACKEPOCH tells it. */
export interface FollowerHistory {
  readonly lastZxid: Zxid;
  readonly epochEnds: readonly Zxid[];
  readonly committed: Zxid;
}

/**
 * Chooses DIFF, TRUNC or SNAP for a follower.
 *
 * Within one epoch every history is a prefix of that epoch's leader's proposals, and a
 * history holding zxid z holds exactly the history that preceded z. So the longest common
 * prefix ends, for the newest epoch both histories hold, at the smaller of their last zxids
 * in it. A follower holding zxids the leader lacks is truncated to exactly that point and no
 * further (ZOOKEEPER-1154); where the leader no longer has the log to send from that point
 * (compacted), it sends a snapshot instead.
 *
 * A follower never truncates below what it applied as committed (docs/zab-rules.md R6), and a
 * leader elected by a quorum never asks it to unless the histories diverged: something broke
 * the protocol's assumptions (a member impersonated without peer TLS, a disk that lost synced
 * writes). The group's history is the one a quorum holds, so such a follower is sent the state
 * itself, which replaces its own, rather than left outside the group for good.
 */
export function planSync(log: ReplicaLog, follower: FollowerHistory): SyncPlan {
  if (log.contains(follower.lastZxid)) return { kind: 'diff', from: follower.lastZxid };
  let common = -1;
  for (const end of follower.epochEnds) {
    const leaderEnd = log.lastInEpoch(epochOf(end));
    if (leaderEnd === undefined) continue;
    const candidate = Math.min(end, leaderEnd);
    if (candidate > common && log.contains(candidate)) common = candidate;
  }
  if (common < 0 && log.contains(0)) common = 0;
  if (common < 0) return { kind: 'snap' };
  return common < follower.committed
    ? { kind: 'snap', divergedAt: common }
    : { kind: 'trunc', to: common };
}

/**
 * The opening of a DIFF or TRUNC sync: the message and the point the entries continue from.
 * (SNAP streams the state first: snapshot-sender.ts.)
 */
export function syncOpening(plan: Exclude<SyncPlan, { kind: 'snap' }>): {
  readonly point: Zxid;
  readonly message: LeaderOutgoing;
} {
  return plan.kind === 'trunc'
    ? { point: plan.to, message: { kind: 'zab.Trunc', zxid: plan.to } }
    : { point: plan.from, message: { kind: 'zab.Diff', zxid: plan.from } };
}

/**
 * What follows the opening of any sync: the entries after `point`, then NEWLEADER last
 * (docs/zab-rules.md R4).
 */
export function syncTail(log: ReplicaLog, point: Zxid, epoch: number): LeaderOutgoing[] {
  const stream: LeaderOutgoing[] = [];
  for (const entries of inPieces(log.after(point))) stream.push({ kind: 'zab.Proposal', entries });
  stream.push({ kind: 'zab.NewLeader', epoch });
  return stream;
}
