import { PROPOSAL_PIECE_BYTES, PROPOSAL_PIECE_ENTRIES_COUNT } from '../components/limits.js';
import type { MessageOf } from '../components/network/network-port.js';
import { formatZxid, type Zxid } from '../kv/zxid.js';
import type { LearnerHandler, LeaderOutgoing } from './learner-handler.js';
import type { ReplicaLog } from './replica-log.js';
import type { RoleContext } from './role-context.js';
import { SnapshotSender } from './snapshot-sender.js';
import { planSync, syncOpening, syncTail } from './sync-plan.js';

/** What the leader lends its follower syncs. */
export interface LeaderSyncHost {
  readonly epoch: () => number;
  readonly send: (handler: LearnerHandler, message: LeaderOutgoing) => void;
  /** The follower sent something impossible: its session ends. */
  readonly refuse: (handler: LearnerHandler, why: string) => void;
  /** Calls `continueSyncs` once the events at hand are handled (a zero-delay timer). */
  readonly continueLater: () => void;
  /** Asks the network to hand what was sent to `handler`'s follower to the operating system. */
  readonly flush: (handler: LearnerHandler) => void;
}

/**
 * Brings followers to the leader's history (LearnerHandler.syncFollower): DIFF or TRUNC and the
 * entries after that point, or first the state streamed piece by piece (SNAP), then NEWLEADER.
 * The entries go a proposal piece per turn (a follower thousands of entries behind, after a SNAP
 * under load, used to get them all from one handler: 120 MB at 10 KB values); the last piece,
 * NEWLEADER and joining the broadcast set happen in one handler, so no new proposal can fall
 * between them (docs/zab-rules.md R5): what was proposed meanwhile is in the log, and the tail
 * reads the log.
 */
export class LeaderSync {
  constructor(
    private readonly context: RoleContext,
    private readonly host: LeaderSyncHost,
  ) {}

  /** Starts the sync: a snapshot first if the log cannot bring the follower up to date. */
  start(handler: LearnerHandler): void {
    const { durable } = this.context;
    let plan = planSync(durable.history, handler);
    // A log tail longer than a sync may hold would be ended at once (Leader.checkBacklog), and
    // tried again the same way: the state is the shorter way there, as ZooKeeper's
    // snapshotSizeFactor has it.
    if (plan.kind !== 'snap') {
      const point = plan.kind === 'diff' ? plan.from : plan.to;
      if (durable.history.bytesAfter(point) > this.context.config.syncBacklogBytes) {
        plan = { kind: 'snap' };
      }
    }
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
      if (handler.snapshot.fill()) this.host.continueLater();
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
    } else {
      this.host.continueLater();
    }
  }

  /** The events at hand are handled: every sync under way sends its next pieces. */
  continueSyncs(handlers: Iterable<LearnerHandler>): void {
    for (const handler of handlers) {
      if (handler.snapshot?.fill() === true) this.host.continueLater();
      if (handler.tail?.flushing !== true) this.sendTailPiece(handler);
    }
  }

  /** What was sent to its follower left the process: its tail sends the next piece. */
  onFlushed(handler: LearnerHandler): void {
    if (handler.tail?.flushing !== true) return;
    handler.tail = { ...handler.tail, flushing: false };
    this.sendTailPiece(handler);
  }

  /**
   * Log bytes the sync under way still has to send (held in memory for it: the log after its
   * snapshot, or after what its tail has sent); null if it holds none.
   */
  backlogBytes(handler: LearnerHandler): number | null {
    const from = handler.snapshot?.zxid ?? handler.tail?.sent;
    return from === undefined ? null : this.context.durable.history.bytesAfter(from);
  }

  /** Streams the entries after `point`, then NEWLEADER (sendTailPiece); the log stays meanwhile. */
  private sendTail(handler: LearnerHandler, point: Zxid): void {
    handler.phase = 'tail-sending';
    handler.tail = { sent: point, unpin: this.context.durable.pinLog(point), flushing: false };
    this.sendTailPiece(handler);
  }

  /**
   * One proposal piece of the tail, or, once the rest fits in one, the rest and NEWLEADER: from
   * there on the follower is in the broadcast set.
   */
  private sendTailPiece(handler: LearnerHandler): void {
    const tail = handler.tail;
    if (tail === null) return;
    const { durable } = this.context;
    const { history } = durable;
    const end = history.sliceEnd(tail.sent, PROPOSAL_PIECE_ENTRIES_COUNT, PROPOSAL_PIECE_BYTES);
    tail.unpin();
    if (end < history.last) {
      this.host.send(handler, {
        kind: 'zab.Proposal',
        entries: inWireForm(history, tail.sent, end),
      });
      // The next piece waits for this one to leave the process: a follower that logs the tail
      // slower than the leader reads it had megabytes a second pile up in the leader's socket,
      // which closed the link (64 MiB unread: 64 writers of 10 KB after a 1 GB SNAP).
      handler.tail = { sent: end, unpin: durable.pinLog(end), flushing: true };
      this.host.flush(handler);
      return;
    }
    handler.tail = null;
    for (const message of syncTail(history, tail.sent, this.host.epoch())) {
      this.host.send(handler, message);
    }
    handler.phase = 'newleader-sent';
    // Its NEWLEADER ACK will vouch for exactly this much; later proposals are acked one by one.
    handler.acked = history.last;
  }
}

/** The entries in (from, to] as a proposal carries them. */
function inWireForm(history: ReplicaLog, from: Zxid, to: Zxid): [number, Uint8Array][] {
  return history.between(from, to).map(({ zxid, payload }) => [zxid, payload]);
}
