import type { NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import type { Zxid } from '../kv/zxid.js';
import type { HistoryRead } from './change-history.js';
import type { WatchEvent, WatchPoll } from './watch-port.js';

/** What a member said: a batch, compacted, behind, or that it holds no history of the group. */
export type AttemptResult = HistoryRead | 'not-here';

/** How a watcher's poll ends. */
export type RelayOutcome =
  { readonly events: readonly WatchEvent[]; readonly cursor: Zxid } | 'compacted' | 'unavailable';

/** One member asked to serve a poll. */
export interface RelayAttempt {
  readonly poll: WatchPoll;
  readonly node: NodeId;
  readonly requestId: number;
  readonly waitTicks: number;
  /** For this node's own replica: drops the held poll. */
  cancelLocal?: () => void;
}

interface Relayed {
  readonly poll: WatchPoll;
  readonly members: readonly NodeId[];
  readonly deadlineTick: number;
  readonly done: (outcome: RelayOutcome) => void;
  /** Members asked so far, counting repeats. */
  tried: number;
  readonly compactedAt: Set<NodeId>;
  attempt: RelayAttempt | null;
  attemptDeadline: number;
  /** Between rounds: the next round starts at `retryTick`. */
  pausing: boolean;
  retryTick: number;
}

export interface PollRelayHooks {
  readonly self: NodeId;
  readonly random: SeededRandom;
  /** Ticks past its wait a member may take to answer before it is given up on. */
  readonly graceTicks: number;
  /** Asks `attempt.node` (this node's replica or another member); it answers via `answered`. */
  readonly start: (attempt: RelayAttempt) => void;
  /** The attempt is given up on: the member may drop it. */
  readonly cancel: (attempt: RelayAttempt) => void;
}

/** Ticks between rounds of asking every member, when none could answer. */
const RETRY_TICKS = 5;

/**
 * Brings a watcher's poll to a member of the group that can answer it: this node's replica first
 * when it is a member, else the member that answered last, then the others in turn. A member
 * that is behind the cursor, does not hold the group, is down or says nothing in time is passed
 * over; `compacted` ends the poll only once every member has said it (a restarted replica holds
 * less history than its peers). Once its wait is over, a poll no member answered ends with an
 * empty batch at its own cursor (nothing new reached it), or `unavailable` when it had no cursor
 * to keep; a member that stays silent past the wait holds it one grace period longer, while the
 * next member is asked without waiting (so the poll's next round starts at one that answers).
 */
export class PollRelay {
  private readonly byId = new Map<number, Relayed>();
  private readonly byRequest = new Map<number, Relayed>();
  private readonly answeredLast = new Map<number, NodeId>();
  /**
   * Members whose connection went down and that have not answered since. A poll sent to one is
   * queued or lost with its link: asked for its whole wait, it held the poll that long and the
   * watcher's stream saw nothing (a leader killed: 30 s and more), so it is asked without a
   * wait, and given up on after the grace period.
   */
  private readonly down = new Set<NodeId>();
  private nextRequestId: number;
  private tick = 0;

  constructor(private readonly hooks: PollRelayHooks) {
    this.nextRequestId = hooks.random.int(1, 2 ** 52);
  }

  get size(): number {
    return this.byId.size;
  }

  begin(
    poll: WatchPoll,
    members: readonly NodeId[],
    waitTicks: number,
    done: (outcome: RelayOutcome) => void,
  ): void {
    this.cancel(poll.id);
    const relayed: Relayed = {
      poll,
      members: this.order(poll.group, members),
      deadlineTick: this.tick + waitTicks,
      done,
      tried: 0,
      compactedAt: new Set(),
      attempt: null,
      attemptDeadline: 0,
      pausing: false,
      retryTick: 0,
    };
    this.byId.set(poll.id, relayed);
    this.askNext(relayed);
  }

  /** The watcher left: its poll is dropped unanswered. */
  cancel(id: number): void {
    const relayed = this.byId.get(id);
    if (relayed === undefined) return;
    this.byId.delete(id);
    this.dropAttempt(relayed, true);
  }

  /** The attempt request `requestId` sent to `node`, while it still waits for an answer. */
  attemptFor(requestId: number, node: NodeId): RelayAttempt | undefined {
    const attempt = this.byRequest.get(requestId)?.attempt;
    return attempt?.requestId === requestId && attempt.node === node ? attempt : undefined;
  }

  answered(attempt: RelayAttempt, result: AttemptResult): void {
    this.down.delete(attempt.node);
    const relayed = this.byRequest.get(attempt.requestId);
    if (relayed === undefined || relayed.attempt !== attempt) return;
    this.dropAttempt(relayed, false);
    if (typeof result === 'object') {
      this.answeredLast.set(relayed.poll.group, attempt.node);
      return this.finish(relayed, result);
    }
    if (result === 'compacted') {
      relayed.compactedAt.add(attempt.node);
      if (relayed.compactedAt.size === relayed.members.length)
        return this.finish(relayed, 'compacted');
    }
    this.askNext(relayed);
  }

  /** `node`'s connection closed: what it was asked will not be answered. */
  nodeDown(node: NodeId): void {
    if (node !== this.hooks.self) this.down.add(node);
    for (const relayed of [...this.byId.values()]) {
      if (relayed.attempt?.node !== node) continue;
      this.dropAttempt(relayed, false);
      this.askNext(relayed);
    }
  }

  onTick(): void {
    this.tick++;
    for (const relayed of [...this.byId.values()]) {
      if (relayed.attempt !== null) {
        if (this.tick < relayed.attemptDeadline) continue;
        // A silent member is not asked first again just because it answered last time.
        const { node } = relayed.attempt;
        if (this.answeredLast.get(relayed.poll.group) === node)
          this.answeredLast.delete(relayed.poll.group);
        this.dropAttempt(relayed, true);
        this.askNext(relayed);
      } else if (this.tick >= relayed.retryTick) {
        this.askNext(relayed);
      }
    }
  }

  private askNext(relayed: Relayed): void {
    const { members, poll } = relayed;
    if (relayed.tried > 0 && relayed.tried % members.length === 0) {
      // A whole round of members could not answer.
      if (this.tick >= relayed.deadlineTick) {
        const fallback = poll.after === null ? 'unavailable' : { events: [], cursor: poll.after };
        return this.finish(relayed, fallback);
      }
      if (!relayed.pausing) {
        // Wait a little before the next round, rather than spin.
        relayed.pausing = true;
        relayed.retryTick = Math.min(relayed.deadlineTick, this.tick + RETRY_TICKS);
      }
      if (this.tick < relayed.retryTick) return;
      relayed.pausing = false;
    }
    const node = members[relayed.tried % members.length]!;
    relayed.tried++;
    const waitTicks = this.down.has(node) ? 0 : Math.max(0, relayed.deadlineTick - this.tick);
    const attempt: RelayAttempt = { poll, node, requestId: this.nextRequestId++, waitTicks };
    relayed.attempt = attempt;
    relayed.attemptDeadline = this.tick + waitTicks + this.hooks.graceTicks;
    this.byRequest.set(attempt.requestId, relayed);
    this.hooks.start(attempt);
  }

  private finish(relayed: Relayed, outcome: RelayOutcome): void {
    if (this.byId.get(relayed.poll.id) !== relayed) return;
    this.byId.delete(relayed.poll.id);
    this.dropAttempt(relayed, true);
    relayed.done(outcome);
  }

  private dropAttempt(relayed: Relayed, cancel: boolean): void {
    const attempt = relayed.attempt;
    if (attempt === null) return;
    relayed.attempt = null;
    this.byRequest.delete(attempt.requestId);
    if (cancel) this.hooks.cancel(attempt);
  }

  /** This node's replica first, then the member that answered last, then the rest in order. */
  private order(group: number, members: readonly NodeId[]): NodeId[] {
    const first = members.includes(this.hooks.self)
      ? this.hooks.self
      : this.answeredLast.get(group);
    if (first === undefined || !members.includes(first)) return [...members];
    return [first, ...members.filter((member) => member !== first)];
  }
}
