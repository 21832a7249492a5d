import assert from 'node:assert/strict';
import type { StoredEntry } from '../components/storage/index.js';
import { decodeOperation, isWrite, type KvLogged, type KvOutcome } from '../kv/kv-operation.js';
import { txnPutBranches } from '../kv/txn.js';
import { insufficientStorage, quotaExceeded, unavailable, unknown } from '../kv/outcome.js';
import { epochOf, formatZxid, makeZxid, type Zxid } from '../kv/zxid.js';
import type { Reply } from './client-requests.js';
import type { AppliedEntry } from './durable-state.js';
import type { DurableWaiters } from './durable-waiters.js';
import { entryBytes } from '../state/write-rules.js';
import {
  countsInQuorum,
  inPieces,
  quorumValue,
  receivesProposals,
  type LearnerHandler,
  type LeaderOutgoing,
} from './learner-handler.js';
import { encodeLogEntry } from './log-entry.js';
import type { RoleContext } from './role-context.js';

/** What the broadcast pipeline needs of its leader. */
export interface ProposalsHost {
  handlers(): Iterable<LearnerHandler>;
  handlerOf(follower: number): LearnerHandler | undefined;
  send(handler: LearnerHandler, message: LeaderOutgoing): void;
  /** The follower sent something impossible: count it and end its session. */
  refuse(handler: LearnerHandler, reason: 'impossible-zxid', why: string): void;
}

/**
 * The established leader's write pipeline (Leader.propose, processAck, tryToCommit): writes
 * batched per burst, proposed with zxids of this epoch, committed once a quorum holds them
 * durably, in order (docs/zab-rules.md R10), and answered at apply.
 */
export class LeaderProposals {
  private epoch = -1;
  private counter = 0;
  private selfDurable: Zxid = 0;
  private lastProposed: Zxid = 0;
  private lastCommittedValue: Zxid = 0;
  /**
   * Proposed writes not yet applied; `followerAnswers`: the follower that forwarded it will;
   * `growth`: the bytes it may add to the group's data (quota).
   */
  private readonly writes = new Map<
    Zxid,
    { reply: Reply; followerAnswers: boolean; growth: number }
  >();
  /** Writes waiting for the current burst of events to end, to be proposed together. */
  private batch: {
    readonly payload: Uint8Array;
    readonly reply: Reply;
    readonly growth: number;
  }[] = [];
  /** Bytes the batched and proposed writes may add once applied: counted against the quota. */
  private pendingGrowth = 0;

  constructor(
    private readonly context: RoleContext,
    private readonly waiters: DurableWaiters,
    private readonly host: ProposalsHost,
  ) {}

  get lastCommitted(): Zxid {
    return this.lastCommittedValue;
  }

  get pending(): number {
    return this.writes.size + this.batch.length;
  }

  /** currentEpoch is durable: this leader's own log, as it stands, is durable too. */
  noteSelfDurable(zxid: Zxid): void {
    this.selfDurable = zxid;
  }

  /** A quorum acknowledged NEWLEADER: the whole history is committed in `epoch`. */
  establish(epoch: number, last: Zxid): void {
    this.epoch = epoch;
    this.lastProposed = last;
    this.selfDurable = last;
    this.lastCommittedValue = last;
    this.commitThrough(last);
  }

  /**
   * A client write (already validated) in its encoded form. Writes that arrive together are
   * proposed together: the batch closes once the events at hand are handled, and becomes one
   * PROPOSAL per follower and one log append (one fsync) for all of them.
   */
  submit(payload: Uint8Array, reply: Reply): void {
    assert(this.epoch >= 0, 'writes are proposed only once established');
    // Logged, a payload the followers refuse (session-checks.ts, entriesFault) would stop the
    // group, and this leader's own apply would fail on it after every restart: a transaction
    // whose compare version was past 2^53 encoded as a float that no longer decoded.
    const operation = decodeOperation(payload);
    if (operation === null || !isWrite(operation)) {
      this.answer(reply, unavailable('not a well-formed write'));
      return;
    }
    if (this.pending >= this.context.config.maxOutstanding) {
      this.answer(reply, unavailable('too many writes in flight'));
      return;
    }
    const noSpace = this.spaceShortage(operation);
    if (noSpace !== null) {
      this.answer(reply, insufficientStorage(noSpace));
      return;
    }
    // The quota (etcd's --quota-backend-bytes), checked before proposing as etcd does: a write
    // that would take the data past it did not happen (507). Deletes and writes that do not
    // grow the data always pass, so a full group can be emptied.
    const { machine } = this.context.durable;
    const quota = this.context.config.quotaBytes;
    const fits = (growth: number) =>
      growth <= 0 || machine.bytes + this.pendingGrowth + growth <= quota;
    // Far from the quota, the write's whole size is growth enough: no read of the state (an
    // lmdb read per write); near it, what the key holds now is subtracted.
    let growth = this.growthOf(operation, false);
    if (!fits(growth)) growth = this.growthOf(operation, true);
    if (!fits(growth)) {
      const held = machine.bytes + this.pendingGrowth;
      this.answer(
        reply,
        quotaExceeded(`${held} of ${quota} bytes held, this write adds ${growth}`),
      );
      return;
    }
    this.pendingGrowth += growth;
    this.batch.push({ payload, reply, growth });
    if (this.batch.length === 1) this.context.replica.requestBurstEnd();
  }

  onBurstEnd(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const entries: StoredEntry[] = [];
    for (const { payload, reply, growth } of batch) {
      if (this.counter + 1 >= this.context.config.counterLimit) {
        // ZOOKEEPER-1277: the last counter value is never used; a new epoch starts again at 1.
        this.pendingGrowth -= growth;
        this.answer(reply, unavailable('zxid counter exhausted, electing'));
        continue;
      }
      this.counter++;
      const zxid = makeZxid(this.epoch, this.counter);
      // A follower that will receive this proposal answers its own client at apply: the
      // entry names it as its origin.
      const forwarder = reply.to === 'remote' ? this.host.handlerOf(reply.node) : undefined;
      const followerAnswers = forwarder !== undefined && receivesProposals(forwarder);
      const origin =
        followerAnswers && reply.to === 'remote'
          ? { node: reply.node, requestId: reply.requestId }
          : null;
      entries.push({ zxid, payload: encodeLogEntry(origin, payload) });
      this.writes.set(zxid, { reply, followerAnswers, growth });
    }
    if (entries.length > 0) this.propose(entries);
    if (entries.length < batch.length) {
      this.context.replica.lookForLeader('zxid counter exhausted');
    }
  }

  private propose(entries: StoredEntry[]): void {
    const last = entries.at(-1)!.zxid;
    this.lastProposed = last;
    // Followers get the proposal before the leader's own fsync, as in ZooKeeper; a burst of big
    // values goes in several messages, each well under the peer frame limit.
    for (const piece of inPieces(entries)) {
      const proposal = { kind: 'zab.Proposal' as const, entries: piece };
      for (const handler of this.host.handlers()) {
        if (receivesProposals(handler)) this.host.send(handler, proposal);
      }
    }
    this.waiters.after(this.context.durable.append(entries), () => {
      this.context.replica.acknowledging(last);
      this.selfDurable = Math.max(this.selfDurable, last);
      this.tryCommit();
    });
  }

  onAck(handler: LearnerHandler, zxid: Zxid): void {
    if (handler.phase !== 'synced' || zxid <= handler.acked) return;
    // Proposals are this epoch's, numbered without gaps: any other zxid was never proposed (a
    // follower synced from an older epoch's history holds `acked` there, below them all, and
    // an ACK between the two would become a commit point no log holds).
    if (epochOf(zxid) !== this.epoch) {
      const why = `ACK ${formatZxid(zxid)} outside epoch ${this.epoch}`;
      return this.host.refuse(handler, 'impossible-zxid', why);
    }
    if (zxid > this.lastProposed) {
      const why = `ACK ${formatZxid(zxid)} beyond the last proposal`;
      return this.host.refuse(handler, 'impossible-zxid', why);
    }
    handler.acked = zxid;
    this.tryCommit();
  }

  /**
   * Commit the highest zxid a quorum holds durably; commits are cumulative, so in order
   * (docs/zab-rules.md R10).
   */
  tryCommit(): void {
    const acked = [this.selfDurable];
    for (const handler of this.host.handlers()) {
      if (countsInQuorum(handler)) acked.push(handler.acked);
    }
    const point = quorumValue(acked, (count) => this.context.replica.isQuorum(count));
    if (point <= this.lastCommittedValue) return;
    this.lastCommittedValue = point;
    for (const handler of this.host.handlers()) {
      if (receivesProposals(handler)) this.host.send(handler, { kind: 'zab.Commit', zxid: point });
    }
    this.commitThrough(point);
  }

  /** The leader steps down: proposed writes have unknown outcomes, batched ones did not happen. */
  end(): void {
    const { requests, config } = this.context;
    // Also to the followers that were to answer themselves: their session may outlive this.
    for (const [zxid, { reply }] of this.writes) {
      requests.answer(reply, unknown('leader changed before commit'), zxid);
    }
    config.observer?.failed?.(config.self, this.writes.size);
    this.writes.clear();
    for (const { reply } of this.batch) {
      this.answer(reply, unavailable('leader changed before proposing'));
    }
    this.batch = [];
    this.pendingGrowth = 0;
  }

  /**
   * The bytes a write may add to the group's data: a put's key and value, less what the key
   * holds now when `exact` (never below 0); nothing for a delete. Writes pending before it are
   * counted by `pendingGrowth` as if each added the growth it was admitted with (an overestimate
   * that ends when they are applied).
   */
  private growthOf(operation: KvLogged, exact: boolean): number {
    const { machine } = this.context.durable;
    const growth = (key: string, value: Uint8Array) =>
      Math.max(0, entryBytes(key, value) - (exact ? machine.bytesOf(key) : 0));
    // A transaction: the puts of whichever branch grows more (which one runs is known at apply).
    if (operation.op === 'txn') return Math.max(...txnPutBranches(operation, growth));
    if (operation.op !== 'put') return 0;
    return growth(operation.key, operation.value);
  }

  /**
   * Why a put is refused for disk space (507, before it is proposed), or null: this leader's
   * store is below its reserve, or too few replicas have room for a quorum to log it (each
   * follower says so in its Pong). Deletes pass: they are small, and how room is made.
   */
  private spaceShortage(operation: KvLogged): string | null {
    const { durable, replica } = this.context;
    let roomy = durable.spaceLow ? 0 : 1;
    for (const handler of this.host.handlers()) {
      if (countsInQuorum(handler) && !handler.spaceLow) roomy++;
    }
    if (!durable.spaceLow && replica.isQuorum(roomy)) return null;
    const puts = operation.op === 'txn' ? txnPutBranches(operation, () => 1) : [];
    if (operation.op !== 'put' && !puts.some((n) => n > 0)) return null;
    return durable.spaceLow ? 'the leader is low on disk space' : 'too few replicas have room';
  }

  private commitThrough(zxid: Zxid): void {
    this.context.replica.commitThrough(zxid, (applied) => this.onApplied(applied));
  }

  /** Applied with this outcome: answer the write that asked for it. */
  private onApplied({ entry, outcome }: AppliedEntry): void {
    const write = this.writes.get(entry.zxid);
    if (write === undefined) return;
    this.writes.delete(entry.zxid);
    this.pendingGrowth -= write.growth;
    if (!write.followerAnswers) this.context.requests.answer(write.reply, outcome, entry.zxid);
  }

  private answer(reply: Reply, outcome: KvOutcome): void {
    this.context.requests.answer(reply, outcome, this.lastCommittedValue);
  }
}
