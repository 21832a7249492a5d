import {
  ComponentDefinition,
  type ComponentContext,
  type ReplyTo,
} from '../components/kernel/index.js';
import { Network, type MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { SeededRandom } from '../components/random/seeded-random.js';
import { Timer } from '../components/timer/timer-port.js';
import { TimerClient } from '../components/timer/timer-client.js';
import { Bootstrap } from '../bootstrap/bootstrap-port.js';
import type { LookupTable } from '../bootstrap/lookup-table.js';
import { PeerRejections, type PeerRejectionReason } from '../kv/peer-rejections.js';
import { ReplicaStatusPort } from '../replica/replica-status-port.js';
import {
  AppliedChanges,
  type ChangesApplied,
  type StateRestored,
} from '../replica/applied-changes-port.js';
import { ChangeHistory, type HistoryLimits, type HistoryRead } from './change-history.js';
import { BEHIND_HOLD_MS, HeldPolls } from './held-polls.js';
import { batchProblem } from './peer-batch-check.js';
import { PollRelay, type RelayAttempt, type RelayOutcome } from './poll-relay.js';
import { filterProblem } from './watch-filter.js';
import { MAX_BATCH_BYTES } from './watch-messages.js';
import {
  Watch,
  WATCH_MAX_WAIT_MS,
  type WatchBatch,
  type WatchEnded,
  type WatchPoll,
} from './watch-port.js';
import { WatchStatusPort, type WatchStatus } from './watch-status-port.js';
import './watch-messages.js';

export interface WatchServiceInit {
  readonly self: NodeId;
  readonly tickMs: number;
  readonly history: HistoryLimits;
  /** The most polls this node's replica holds at once; more are told `busy`. */
  readonly maxHeldPolls: number;
  /** How long past a poll's wait a member may take to answer before another is asked. */
  readonly answerGraceMs: number;
  /** Request ids start at a random point, so an answer meant for an earlier incarnation never matches. */
  readonly random: SeededRandom;
}

type Answer = WatchBatch | WatchEnded;

const STATUS_EVERY_MS = 1_000;
/** What the filters of polls held for other nodes may take together. */
const MAX_PEER_FILTER_BYTES = 32 * 1024 * 1024;

/** What a filter costs held: its strings, as UTF-16 in memory. */
function filterCost(filter: {
  readonly prefixes: readonly string[];
  readonly keys: readonly string[];
}): number {
  let bytes = 64;
  for (const text of [...filter.prefixes, ...filter.keys]) bytes += 32 + text.length * 2;
  return bytes;
}

/**
 * Watches on every node (issue 12): keeps the change history of this node's group, fed by its
 * replica's apply outcomes (AppliedChanges), and serves polls from it, to this node's frontend
 * and to other nodes; a poll for another group (or one this replica cannot serve: behind,
 * compacted, down) is relayed to the group's members in turn (poll-relay.ts). A watcher's cursor
 * is all its state, so any member that has applied it can serve the next changes, exactly.
 *
 * Peer input is checked: a poll from a node outside the table, with a filter beyond limits, is
 * dropped and counted; a batch that could not be a true answer (out of order, beyond its cursor,
 * a key the filter does not match) is dropped and counted, and another member is asked.
 */
export class WatchService extends ComponentDefinition {
  readonly watch = this.provides(Watch);
  readonly status = this.provides(WatchStatusPort);
  private readonly network = this.requires(Network);
  private readonly timer = this.requires(Timer);
  private readonly bootstrap = this.requires(Bootstrap);
  private readonly applied = this.requires(AppliedChanges);
  private readonly replicaStatus = this.requires(ReplicaStatusPort);
  private readonly timers = new TimerClient(this, (request) => this.trigger(request, this.timer));
  private table: LookupTable | null = null;
  private history: ChangeHistory | null = null;
  /** This node's replica has a leader (ReplicaStatus): only then does it hold polls. */
  private serving = false;
  private held: HeldPolls | null = null;
  private readonly relay: PollRelay;
  /** Polls held for other nodes, by asker and request id, to cancel them. */
  private readonly peerHeld = new Map<NodeId, Map<number, () => void>>();
  /** Its clock is the ticks' (the warn backoff's reset): no protocol code reads the wall. */
  private readonly rejections = new PeerRejections(
    this.log,
    () => this.ticksSinceStart * this.init.tickMs,
  );
  private compacted = 0;
  /** filterCost summed over the polls held for other nodes. */
  private peerFilterBytes = 0;
  private lastStatus = '';
  private ticksSinceStatus = 0;
  /** Ticks since the start: this service's clock. */
  private ticksSinceStart = 0;

  constructor(
    context: ComponentContext,
    private readonly init: WatchServiceInit,
  ) {
    super(context);
    this.relay = new PollRelay({
      self: init.self,
      random: init.random,
      graceTicks: this.ticks(init.answerGraceMs),
      start: (attempt) => this.startAttempt(attempt),
      cancel: (attempt) => this.cancelAttempt(attempt),
    });
    this.subscribe(this.timer, 'Timeout', this.timers.onTimeout);
    this.subscribe(this.bootstrap, 'TableReady', ({ table }) => this.onTable(table));
    this.subscribe(this.applied, 'ChangesApplied', (event) => this.onChangesApplied(event));
    this.subscribe(this.applied, 'StateRestored', (event) => this.onStateRestored(event));
    this.subscribe(this.replicaStatus, 'ReplicaStatus', ({ serving }) => {
      if (this.serving && !serving) this.held?.releaseAll();
      this.serving = serving;
    });
    this.subscribe(this.watch, 'WatchPoll', (poll, origin) => this.onPoll(poll, origin));
    this.subscribe(this.watch, 'WatchCancel', ({ id }) => this.relay.cancel(id));
    this.subscribe(this.network, 'watch.Poll', (m) => this.onPeerPoll(m));
    this.subscribe(this.network, 'watch.Cancel', (m) =>
      this.peerHeld.get(m.src)?.get(m.requestId)?.(),
    );
    this.subscribe(this.network, 'watch.Batch', (m) => this.onPeerBatch(m));
    this.subscribe(this.network, 'watch.Ended', (m) => this.onPeerEnded(m));
    this.subscribe(this.network, 'LinkDown', ({ peer }) => this.onLinkDown(peer));
  }

  protected override onStart(): void {
    this.timers.every(this.init.tickMs, () => this.onTick());
  }

  protected override onKill(): void {
    this.timers.cancelAll();
  }

  private ticks(ms: number): number {
    return Math.ceil(ms / this.init.tickMs);
  }

  private onTable(table: LookupTable): void {
    if (this.table !== null && table.version <= this.table.version) return;
    this.table = table;
  }

  // ---- this node's group: its history and the polls it holds ------------------------------

  private onStateRestored({ group, applied }: StateRestored): void {
    if (this.history === null || this.history.group !== group) {
      this.history = new ChangeHistory(group, applied, this.init.history);
      this.held?.releaseAll();
      this.held = new HeldPolls(this.history, this.ticks(BEHIND_HOLD_MS));
    } else {
      const previous = this.history.applied;
      this.history.restore(applied);
      this.held?.onRestored(previous);
    }
    this.log.debug({ group, applied, floor: this.history.floor }, 'watch history restarts');
  }

  private onChangesApplied({ group, entries, applied }: ChangesApplied): void {
    if (this.history === null || this.history.group !== group) return;
    const events = this.history.append(entries, applied);
    this.held?.onApplied(events, applied);
  }

  /** Serves a poll from this replica's history; false when this node holds no such history. */
  private serveLocally(
    group: number,
    poll: Pick<WatchPoll, 'after' | 'filter' | 'maxBytes' | 'waitMs'>,
    answer: (read: HistoryRead) => void,
  ): (() => void) | null {
    if (this.history === null || this.history.group !== group || this.held === null) return null;
    return this.held.serve(
      {
        after: poll.after,
        filter: poll.filter,
        maxBytes: Math.min(poll.maxBytes, MAX_BATCH_BYTES),
        waitTicks: this.ticks(Math.min(poll.waitMs, WATCH_MAX_WAIT_MS)),
        answer,
      },
      this.serving,
    );
  }

  // ---- this node's watchers: polls relayed to a member that can answer --------------------

  private onPoll(poll: WatchPoll, origin: ReplyTo<Answer>): void {
    const group = this.table?.groups.find((g) => g.id === poll.group);
    if (group === undefined || filterProblem(poll.filter) !== null) {
      this.answer(origin, {
        kind: 'WatchEnded',
        id: poll.id,
        group: poll.group,
        reason: 'unavailable',
      });
      return;
    }
    this.relay.begin(poll, group.members, this.ticks(poll.waitMs), (outcome) =>
      this.answer(origin, this.toAnswer(poll, outcome)),
    );
  }

  private toAnswer(poll: WatchPoll, outcome: RelayOutcome): Answer {
    const { id, group } = poll;
    if (outcome === 'compacted') {
      this.compacted++;
      return { kind: 'WatchEnded', id, group, reason: 'compacted' };
    }
    if (outcome === 'unavailable') return { kind: 'WatchEnded', id, group, reason: 'unavailable' };
    return { kind: 'WatchBatch', id, group, events: outcome.events, cursor: outcome.cursor };
  }

  private startAttempt(attempt: RelayAttempt): void {
    const { poll, waitTicks } = attempt;
    const waitMs = waitTicks * this.init.tickMs;
    if (attempt.node === this.init.self) {
      const cancel = this.serveLocally(poll.group, { ...poll, waitMs }, (read) =>
        this.relay.answered(attempt, read),
      );
      if (cancel === null) this.relay.answered(attempt, 'not-here');
      else attempt.cancelLocal = cancel;
      return;
    }
    this.trigger(
      {
        kind: 'watch.Poll',
        src: this.init.self,
        dst: attempt.node,
        requestId: attempt.requestId,
        group: poll.group,
        after: poll.after ?? -1,
        prefixes: [...poll.filter.prefixes],
        keys: [...poll.filter.keys],
        waitMs,
        maxBytes: Math.min(poll.maxBytes, MAX_BATCH_BYTES),
      },
      this.network,
    );
  }

  private cancelAttempt(attempt: RelayAttempt): void {
    if (attempt.node === this.init.self) attempt.cancelLocal?.();
    else {
      const { requestId } = attempt;
      this.trigger(
        { kind: 'watch.Cancel', src: this.init.self, dst: attempt.node, requestId },
        this.network,
      );
    }
  }

  private onPeerBatch(m: MessageOf<'watch.Batch'>): void {
    const attempt = this.relay.attemptFor(m.requestId, m.src);
    if (attempt === undefined) return; // answered or given up already
    const problem = batchProblem(attempt.poll, m);
    if (problem !== null) {
      this.reject('bad-payload', m, problem);
      this.relay.answered(attempt, 'behind');
      return;
    }
    this.relay.answered(attempt, { events: m.events, cursor: m.cursor });
  }

  private onPeerEnded(m: MessageOf<'watch.Ended'>): void {
    const attempt = this.relay.attemptFor(m.requestId, m.src);
    if (attempt === undefined) return;
    this.relay.answered(attempt, m.reason === 'compacted' ? 'compacted' : 'not-here');
  }

  // ---- other nodes' watchers: polls served from this replica ------------------------------

  private onPeerPoll(m: MessageOf<'watch.Poll'>): void {
    const { src, requestId } = m;
    const reply = (reason: MessageOf<'watch.Ended'>['reason']): void =>
      this.trigger(
        { kind: 'watch.Ended', src: this.init.self, dst: src, requestId, reason },
        this.network,
      );
    if (this.table === null || this.table.groupOfNode(src) === undefined) {
      this.reject('not-in-table', m);
      return;
    }
    const filter = { prefixes: m.prefixes, keys: m.keys };
    const problem = filterProblem(filter);
    if (problem !== null) {
      this.reject('over-limits', m, problem);
      return;
    }
    // Held polls are bounded in number and in the filters they keep (up to 64 KiB each).
    const cost = filterCost(filter);
    const full = (this.held?.size ?? 0) >= this.init.maxHeldPolls;
    if (full || this.peerFilterBytes + cost > MAX_PEER_FILTER_BYTES) return reply('busy');
    this.peerFilterBytes += cost;
    let released = false;
    const release = (): void => {
      if (!released) this.peerFilterBytes -= cost;
      released = true;
    };
    let byPeer = this.peerHeld.get(src);
    if (byPeer === undefined) this.peerHeld.set(src, (byPeer = new Map()));
    const held = byPeer;
    const poll = {
      after: m.after < 0 ? null : m.after,
      filter,
      maxBytes: m.maxBytes,
      waitMs: m.waitMs,
    };
    let answered = false;
    const cancel = this.serveLocally(m.group, poll, (read) => {
      answered = true;
      release();
      held.delete(requestId);
      if (read === 'compacted' || read === 'behind') return reply(read);
      // Read-only arrays to the network, which only encodes them.
      const { events, cursor } = read;
      this.trigger(
        {
          kind: 'watch.Batch',
          src: this.init.self,
          dst: src,
          requestId,
          cursor,
          events: events as MessageOf<'watch.Batch'>['events'],
        },
        this.network,
      );
    });
    if (cancel === null) {
      release();
      return reply('not-here');
    }
    if (answered) return;
    held.get(requestId)?.(); // a request id used twice: the earlier poll goes
    held.set(requestId, () => {
      release();
      held.delete(requestId);
      cancel();
    });
  }

  private onLinkDown(peer: NodeId): void {
    const byPeer = this.peerHeld.get(peer);
    if (byPeer !== undefined) for (const cancel of [...byPeer.values()]) cancel();
    this.peerHeld.delete(peer);
    this.relay.nodeDown(peer);
  }

  private reject(
    reason: PeerRejectionReason,
    m: { kind: string; src: NodeId },
    detail?: string,
  ): void {
    this.rejections.reject(reason, {
      kind: m.kind,
      from: m.src,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  private onTick(): void {
    this.ticksSinceStart++;
    this.held?.onTick();
    this.relay.onTick();
    if (++this.ticksSinceStatus * this.init.tickMs >= STATUS_EVERY_MS) this.reportStatus();
  }

  private reportStatus(): void {
    const h = this.history;
    const status: WatchStatus = {
      kind: 'WatchStatus',
      history:
        h === null
          ? null
          : {
              group: h.group,
              floor: h.floor,
              applied: h.applied,
              entries: h.length,
              bytes: h.bytes,
            },
      heldPolls: this.held?.size ?? 0,
      relayedPolls: this.relay.size,
      compacted: this.compacted,
      rejected: this.rejections.counts,
    };
    this.ticksSinceStatus = 0;
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.trigger(status, this.status);
  }
}
