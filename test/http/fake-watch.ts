import {
  ComponentDefinition,
  type ComponentContext,
  type ReplyTo,
} from '../../components/kernel/index.js';
import type { Zxid } from '../../kv/zxid.js';
import { eventMatching } from '../../watch/watch-filter.js';
import {
  Watch,
  type WatchBatch,
  type WatchEnded,
  type WatchEvent,
  type WatchPoll,
} from '../../watch/watch-port.js';

interface History {
  readonly events: WatchEvent[];
  /** The changes after this zxid are all kept; a poll from before it is `compacted`. */
  floor: Zxid;
  applied: Zxid;
}

interface Held {
  readonly poll: WatchPoll;
  readonly origin: ReplyTo<WatchBatch | WatchEnded>;
  readonly timer: NodeJS.Timeout;
}

/**
 * Stands in for the Watch provider (the lead's WatchService): a scripted history per group
 * (`append`, `compact`), polls held until a matching change or their wait ends, answers
 * delayed by `delayMs`, groups made `unavailable`. Records every poll and cancel.
 */
export class FakeWatch extends ComponentDefinition {
  readonly watch = this.provides(Watch);
  readonly polls: WatchPoll[] = [];
  readonly cancels: number[] = [];
  readonly unavailable = new Set<number>();
  delayMs = 0;
  /** Events handed out in batches so far. */
  handedOut = 0;
  private readonly histories = new Map<number, History>();
  private readonly held = new Map<number, Held>();

  constructor(context: ComponentContext, groups: number) {
    super(context);
    for (let group = 0; group < groups; group++) {
      this.histories.set(group, { events: [], floor: 0, applied: 0 });
    }
    this.subscribe(this.watch, 'WatchPoll', (poll, origin) => {
      this.polls.push(poll);
      this.onPoll(poll, origin);
    });
    this.subscribe(this.watch, 'WatchCancel', ({ id }) => {
      this.cancels.push(id);
      const held = this.held.get(id);
      if (held === undefined) return;
      clearTimeout(held.timer);
      this.held.delete(id);
    });
  }

  /** Polls waiting for a change. */
  get waiting(): readonly WatchPoll[] {
    return [...this.held.values()].map((h) => h.poll);
  }

  history(group: number): History {
    return this.histories.get(group)!;
  }

  /** Applies `event` in `group` (zxids must grow) and answers the polls it matches. */
  append(group: number, event: WatchEvent): void {
    const history = this.history(group);
    if (event.zxid <= history.applied) throw new Error('zxids grow');
    history.events.push(event);
    history.applied = event.zxid;
    for (const held of [...this.held.values()]) {
      if (held.poll.group !== group) continue;
      if (this.matching(held.poll).length > 0) this.release(held);
    }
  }

  /** Answers every poll of `group` waiting now with WatchEnded `reason`. */
  endWaiting(group: number, reason: WatchEnded['reason']): void {
    for (const held of [...this.held.values()]) {
      if (held.poll.group !== group) continue;
      clearTimeout(held.timer);
      this.held.delete(held.poll.id);
      this.send(held.origin, { kind: 'WatchEnded', id: held.poll.id, group, reason });
    }
  }

  /** Moves `group`'s applied zxid without a change (another key's write, say). */
  advance(group: number, zxid: Zxid): void {
    this.history(group).applied = Math.max(this.history(group).applied, zxid);
  }

  /** Ends the waits of `group`'s polls now (as if their time were up): empty batches. */
  flush(group: number): void {
    for (const held of [...this.held.values()]) if (held.poll.group === group) this.release(held);
  }

  /** Forgets the changes at or before `floor`. */
  compact(group: number, floor: Zxid): void {
    const history = this.history(group);
    history.floor = floor;
    history.events.splice(0, history.events.filter((e) => e.zxid <= floor).length);
  }

  private onPoll(poll: WatchPoll, origin: ReplyTo<WatchBatch | WatchEnded>): void {
    const history = this.histories.get(poll.group);
    if (history === undefined || this.unavailable.has(poll.group)) {
      return this.send(origin, {
        kind: 'WatchEnded',
        id: poll.id,
        group: poll.group,
        reason: 'unavailable',
      });
    }
    if (poll.after !== null && poll.after < history.floor) {
      return this.send(origin, {
        kind: 'WatchEnded',
        id: poll.id,
        group: poll.group,
        reason: 'compacted',
      });
    }
    if (this.matching(poll).length > 0 || poll.waitMs === 0) {
      return this.send(origin, this.batch(poll));
    }
    const timer = setTimeout(() => {
      this.held.delete(poll.id);
      this.send(origin, this.batch(poll));
    }, poll.waitMs);
    this.held.set(poll.id, { poll, origin, timer });
  }

  private release(held: Held): void {
    clearTimeout(held.timer);
    this.held.delete(held.poll.id);
    this.send(held.origin, this.batch(held.poll));
  }

  private matching(poll: WatchPoll): WatchEvent[] {
    const history = this.history(poll.group);
    const after = poll.after ?? history.applied;
    return history.events
      .filter((event) => event.zxid > after)
      .map((event) => eventMatching(poll.filter, event))
      .filter((event): event is WatchEvent => event !== null);
  }

  /** What the poll is owed now: its matching events up to maxBytes, whole entries only. */
  private batch(poll: WatchPoll): WatchBatch {
    const history = this.history(poll.group);
    const events: WatchEvent[] = [];
    let bytes = 0;
    for (const event of this.matching(poll)) {
      events.push(event);
      for (const change of event.changes) bytes += change.value?.byteLength ?? 0;
      if (bytes >= poll.maxBytes) break;
    }
    const full = events.length === this.matching(poll).length;
    this.handedOut += events.length;
    return {
      kind: 'WatchBatch',
      id: poll.id,
      group: poll.group,
      events,
      cursor: full ? history.applied : events[events.length - 1]!.zxid,
    };
  }

  private send(origin: ReplyTo<WatchBatch | WatchEnded>, event: WatchBatch | WatchEnded): void {
    if (this.delayMs === 0) this.answer(origin, event);
    else setTimeout(() => this.answer(origin, event), this.delayMs);
  }
}
