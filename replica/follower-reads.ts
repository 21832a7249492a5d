import { unavailable } from '../kv/outcome.js';
import { serveRead } from '../state/range-reads.js';
import type { Zxid } from '../kv/zxid.js';
import type { KvReadOperation, Reply } from './client-requests.js';
import type { RoleContext } from './role-context.js';

interface FollowerRead {
  readonly read: KvReadOperation;
  readonly reply: Reply;
  /** The first ReadIndex request sent after the read arrived: only its answer covers it. */
  readonly round: number;
  readonly deadlineTick: number;
  /** Known once its round is answered: serve when this replica has applied this far. */
  readIndex: Zxid | null;
}

/**
 * Linearizable reads served by a follower from its own state (etcd's ReadIndex, the
 * follower side; docs/zab-rules.md, "Linearizable reads"). Reads wait for a ReadIndex round sent
 * after they
 * arrived; the leader answers it with its commit point once a quorum has confirmed it still
 * leads, and the follower answers the reads once it has applied that far. A read that
 * arrived before a write was acknowledged anywhere therefore sees it, and the values never
 * cross the network twice. One round is in flight at a time; the reads that arrive meanwhile
 * all share the next one.
 */
export class FollowerReads {
  private reads: FollowerRead[] = [];
  private lastSentRound = 0;
  private roundInFlight = false;
  private sendScheduled = false;
  private tick = 0;

  constructor(
    private readonly context: RoleContext,
    private readonly sendReadIndex: (round: number) => void,
  ) {}

  submit(read: KvReadOperation, reply: Reply): void {
    this.reads.push({
      read,
      reply,
      round: this.lastSentRound + 1,
      deadlineTick: this.tick + this.context.config.requestTimeoutTicks,
      readIndex: null,
    });
    if (this.roundInFlight || this.sendScheduled) return;
    // Gather every read of this burst into the round.
    this.sendScheduled = true;
    this.context.replica.requestBurstEnd();
  }

  onBurstEnd(): void {
    if (!this.sendScheduled) return;
    this.sendScheduled = false;
    this.startRound();
  }

  /** The leader's answer to round `round`: every read covered waits for `zxid` to be applied. */
  onReply(round: number, zxid: Zxid): void {
    if (round !== this.lastSentRound || !this.roundInFlight) return;
    this.roundInFlight = false;
    for (const read of this.reads) if (read.round <= round) read.readIndex ??= zxid;
    this.serveApplied();
    if (this.reads.some((read) => read.readIndex === null)) this.startRound();
  }

  /** Answers every read whose read index this replica has applied. */
  serveApplied(): void {
    const { machine } = this.context.durable;
    const applied = machine.appliedZxid;
    const waiting: FollowerRead[] = [];
    for (const read of this.reads) {
      if (read.readIndex !== null && read.readIndex <= applied) {
        this.context.requests.answer(read.reply, serveRead(machine, read.read), applied);
      } else waiting.push(read);
    }
    this.reads = waiting;
  }

  onTick(): void {
    this.tick++;
    const expired = this.reads.filter((read) => read.deadlineTick <= this.tick);
    if (expired.length === 0) return;
    this.reads = this.reads.filter((read) => read.deadlineTick > this.tick);
    for (const read of expired) this.answerUnavailable(read, 'read timed out');
  }

  /** The session is over: none of the waiting reads happened, so they may be retried. */
  end(): void {
    for (const read of this.reads) this.answerUnavailable(read, 'leader lost');
    this.reads = [];
  }

  private startRound(): void {
    if (this.roundInFlight || this.reads.length === 0) return;
    this.roundInFlight = true;
    this.sendReadIndex(++this.lastSentRound);
  }

  private answerUnavailable(read: FollowerRead, reason: string): void {
    this.context.requests.answer(read.reply, unavailable(reason), this.context.durable.committed);
  }
}
