import { unavailable } from '../kv/outcome.js';
import { serveRead } from '../state/range-reads.js';
import type { Zxid } from '../kv/zxid.js';
import type { KvReadOperation, Reply } from './client-requests.js';
import type { RoleContext } from './role-context.js';

/**
 * A read waiting for the barrier: a client read this leader serves itself, or a follower's
 * ReadIndex request, answered with the commit point as it was when the request arrived.
 */
type PendingRead<Session> = (
  | { readonly kind: 'local'; readonly read: KvReadOperation; readonly reply: Reply }
  | {
      readonly kind: 'index';
      readonly session: Session;
      readonly requestRound: number;
      readonly commitPoint: Zxid;
    }
) & {
  /** The first barrier round sent after the read arrived: only its quorum proves leadership. */
  readonly round: number;
};

/** What the barrier needs of its leader: pings out, and which round a quorum has answered. */
export interface BarrierHost<Session> {
  /** Sends PING `round` to every follower in the session's later phases. */
  sendPing(round: number): void;
  /** The latest round a quorum (the leader included) has answered. */
  provenRound(): number;
  /** Answers a follower's ReadIndex, if its session is still the current one. */
  replyReadIndex(session: Session, requestRound: number, commitPoint: Zxid): void;
}

/**
 * The leader's batched quorum read barrier (docs/zab-rules.md, "Linearizable reads"; the
 * follower's side is follower-reads.ts). A round completes when a quorum, this leader
 * included, has answered it: at that moment no other leader can have been established since
 * the round was sent, and this leader has applied everything committed before its reads
 * arrived (it applies at commit). One round is in flight at a time; reads that arrive
 * meanwhile share the next.
 */
export class LeaderReads<Session> {
  private reads: PendingRead<Session>[] = [];
  private lastSentRound = 0;
  private roundInFlight = false;

  constructor(
    private readonly context: RoleContext,
    private readonly host: BarrierHost<Session>,
  ) {}

  submit(read: KvReadOperation, reply: Reply): void {
    this.reads.push({ kind: 'local', read, reply, round: this.lastSentRound + 1 });
    this.completeRounds();
  }

  /**
   * Every write acknowledged before the request arrived is committed by now, so the commit
   * point at arrival is what the follower's reads must see (the ReadIndex of etcd's raft).
   */
  submitIndex(session: Session, requestRound: number, commitPoint: Zxid): void {
    const round = this.lastSentRound + 1;
    this.reads.push({ kind: 'index', session, requestRound, commitPoint, round });
    this.completeRounds();
  }

  /** The last round sent: a follower can answer no later one. */
  get lastRound(): number {
    return this.lastSentRound;
  }

  /** A liveness round (each tick): it proves leadership for every read that came before it. */
  startRound(): void {
    this.lastSentRound++;
    this.roundInFlight = true;
    this.host.sendPing(this.lastSentRound);
  }

  /** A follower answered a round, or the set of followers changed. */
  completeRounds(): void {
    const proven = this.host.provenRound();
    if (proven >= this.lastSentRound) this.roundInFlight = false;
    if (this.reads.length > 0 && proven >= this.reads[0]!.round) this.serveProven(proven);
    // Reads that came after the last round was sent need a round of their own. (The tick's
    // liveness round can be the last one sent while an earlier round is still out: waiting
    // for the next tick here once cost reads a whole tick.)
    const unsent = this.reads.at(-1)?.round ?? 0;
    if (!this.roundInFlight && unsent > this.lastSentRound) this.startRound();
  }

  /** The leader steps down: none of its waiting reads happened (a follower's end with its session). */
  end(committed: Zxid): void {
    for (const read of this.reads) {
      if (read.kind === 'local') {
        this.context.requests.answer(read.reply, unavailable('leader changed'), committed);
      }
    }
    this.reads = [];
  }

  private serveProven(proven: number): void {
    const { machine } = this.context.durable;
    const served = machine.appliedZxid;
    const waiting: PendingRead<Session>[] = [];
    for (const read of this.reads) {
      if (read.round > proven) waiting.push(read);
      else if (read.kind === 'local') {
        this.context.requests.answer(read.reply, serveRead(machine, read.read), served);
      } else this.host.replyReadIndex(read.session, read.requestRound, read.commitPoint);
    }
    this.reads = waiting;
  }
}
