import type { Zxid } from '../kv/zxid.js';
import type { ChangeHistory, HistoryRead } from './change-history.js';
import { eventMatching } from './watch-filter.js';
import type { WatchEvent, WatchFilter } from './watch-port.js';

/** The most history entries one read looks at: a watcher far behind is served in steps. */
export const MAX_SCANNED_PER_READ = 10_000;
/** A replica that has not applied a watcher's cursor holds it this long, then says `behind`. */
export const BEHIND_HOLD_MS = 1_000;

export interface LocalPoll {
  /** null: from what this replica has applied (a watch that starts now). */
  readonly after: Zxid | null;
  readonly filter: WatchFilter;
  readonly maxBytes: number;
  readonly waitTicks: number;
  readonly answer: (read: HistoryRead) => void;
}

interface Held {
  readonly poll: LocalPoll;
  /** Nothing matched after the poll's cursor through here. */
  position: Zxid;
  /** The replica had not applied the cursor yet. */
  behind: boolean;
  deadlineTick: number;
}

/**
 * Watch polls this node's replica serves from its ChangeHistory, answered at once when there is
 * something to say, else held until a matching change is applied or the wait ends. A held poll
 * looks only at what is applied while it waits (its `position` moves with the applied zxid), so
 * a quiet watcher costs nothing per apply beyond matching the new changes.
 */
export class HeldPolls {
  private readonly held = new Set<Held>();
  private tick = 0;

  constructor(
    private readonly history: ChangeHistory,
    private readonly behindTicks: number,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** Answers `poll` now or holds it; returns how to drop it unanswered (its asker left). */
  serve(poll: LocalPoll): () => void {
    const after = poll.after ?? this.history.applied;
    const read = this.history.read(after, poll.filter, poll.maxBytes, MAX_SCANNED_PER_READ);
    const now = (): (() => void) => {
      poll.answer(read);
      return () => {};
    };
    if (read === 'compacted') return now();
    if (read === 'behind' && poll.waitTicks === 0) return now();
    // Something to say, or a scan cut short: the watcher continues from the cursor at once.
    if (read !== 'behind' && (read.events.length > 0 || read.cursor < this.history.applied))
      return now();
    if (read !== 'behind' && poll.waitTicks === 0) return now();
    const behind = read === 'behind';
    const waitTicks = behind ? Math.min(poll.waitTicks, this.behindTicks) : poll.waitTicks;
    const held: Held = {
      poll,
      position: behind ? after : read.cursor,
      behind,
      deadlineTick: this.tick + Math.max(1, waitTicks),
    };
    this.held.add(held);
    return () => this.held.delete(held);
  }

  /** Entries were applied (`events`, now in the history) through `applied`. */
  onApplied(events: readonly WatchEvent[], applied: Zxid): void {
    for (const held of [...this.held]) {
      if (held.behind) {
        if (applied < held.position) continue;
        held.behind = false;
        this.answerIfAny(held);
      } else if (events.some((event) => eventMatching(held.poll.filter, event) !== null)) {
        this.answerIfAny(held);
      } else {
        held.position = applied;
      }
    }
  }

  /** The history restarted or was cut back (ChangeHistory.restore). */
  onRestored(): void {
    for (const held of [...this.held]) {
      if (held.behind) continue;
      if (held.position > this.history.applied) held.behind = true;
      // What came after its position is no longer known here: it moves on from its position.
      else if (held.position < this.history.floor) this.answer(held, emptyAt(held.position));
    }
  }

  onTick(): void {
    this.tick++;
    for (const held of [...this.held]) {
      if (held.deadlineTick > this.tick) continue;
      this.answer(held, held.behind ? 'behind' : emptyAt(held.position));
    }
  }

  /** Every held poll answered with what it has (the replica is going away). */
  releaseAll(): void {
    for (const held of [...this.held])
      this.answer(held, held.behind ? 'behind' : emptyAt(held.position));
  }

  private answerIfAny(held: Held): void {
    const { filter, maxBytes } = held.poll;
    const read = this.history.read(held.position, filter, maxBytes, MAX_SCANNED_PER_READ);
    const nothingYet =
      read !== 'behind' &&
      read !== 'compacted' &&
      read.events.length === 0 &&
      read.cursor === this.history.applied;
    if (nothingYet) held.position = read.cursor;
    else this.answer(held, read);
  }

  private answer(held: Held, read: HistoryRead): void {
    this.held.delete(held);
    held.poll.answer(read);
  }
}

function emptyAt(cursor: Zxid): HistoryRead {
  return { events: [], cursor };
}
