import type { MessageOf } from '../components/network/network-port.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import type { LearnerHandler, LeaderOutgoing } from './learner-handler.js';
import type { RoleContext } from './role-context.js';
import { SnapshotSender } from './snapshot-sender.js';
import { planSync, syncOpening, syncTail } from './sync-plan.js';

/** What the leader lends its follower syncs. */
export interface LeaderSyncHost {
  readonly epoch: () => number;
  readonly send: (handler: LearnerHandler, message: LeaderOutgoing) => void;
  /** The follower sent something impossible: its session ends. */
  readonly refuse: (handler: LearnerHandler, why: string) => void;
}

/**
 * Brings followers to the leader's history (LearnerHandler.syncFollower): DIFF or TRUNC and the
 * entries after that point, or first the state streamed piece by piece (SNAP), then NEWLEADER.
 * Sending the tail and joining the broadcast set happen in one handler, so no new proposal can
 * fall between them (docs/zab-rules.md R5).
 */
export class LeaderSync {
  constructor(
    private readonly context: RoleContext,
    private readonly host: LeaderSyncHost,
  ) {}

  /** Starts the sync: a snapshot first if the log cannot bring the follower up to date. */
  start(handler: LearnerHandler): void {
    const { durable } = this.context;
    const plan = planSync(durable.history, handler);
    if (plan.kind === 'snap') {
      if (plan.divergedAt !== undefined) {
        this.context.replica.logWarn(
          {
            follower: handler.follower,
            committed: formatZxid(handler.committed),
            common: formatZxid(plan.divergedAt),
          },
          'follower committed beyond the common prefix: its history diverged; sending the state',
        );
      }
      handler.phase = 'snapshot-sent';
      handler.snapshot = new SnapshotSender(durable, (message) => this.host.send(handler, message));
      return;
    }
    const { point, message } = syncOpening(plan);
    this.host.send(handler, message);
    this.sendTail(handler, point);
  }

  onSnapAck(handler: LearnerHandler, message: MessageOf<'zab.SnapAck'>): void {
    const sender = handler.snapshot;
    if (handler.phase !== 'snapshot-sent' || sender === null) {
      return this.host.refuse(handler, `SNAPACK in phase ${handler.phase}`);
    }
    const progress = sender.onAck(message.zxid, message.piece);
    if (progress.kind === 'impossible') return this.host.refuse(handler, progress.why);
    if (progress.kind === 'done') {
      sender.close();
      handler.snapshot = null;
      this.sendTail(handler, sender.zxid);
    }
  }

  /** The entries after `point` and NEWLEADER: from here on the follower is in the broadcast set. */
  private sendTail(handler: LearnerHandler, point: Zxid): void {
    const { history } = this.context.durable;
    for (const message of syncTail(history, point, this.host.epoch())) {
      this.host.send(handler, message);
    }
    handler.phase = 'newleader-sent';
    // Its NEWLEADER ACK will vouch for exactly this much; later proposals are acked one by one.
    handler.acked = history.last;
  }
}
