import type { Zxid } from '../kv/zxid.js';
import { eventBytes, type ChangeHistory, type HistoryRead } from './change-history.js';
import { FilterIndex } from './filter-index.js';
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
  /** The cursor it asked from (for a poll behind: the zxid the replica must reach first). */
  readonly position: Zxid;
  /** The replica had not applied the cursor yet. */
  behind: boolean;
  deadlineTick: number;
}

/**
 * Watch polls this node's replica serves from its ChangeHistory, answered at once when there is
 * something to say, else held until a matching change is applied or the wait ends. Held polls
 * are found through a FilterIndex, so an applied change costs a few lookups, not one match per
 * waiting watcher. A held poll that no change has matched has seen nothing since it was held:
 * its answer at the end of the wait is an empty batch at the applied zxid of that moment, and
 * its answer on a match is the matching part of the entries just applied.
 */
export class HeldPolls {
  private readonly held = new Set<Held>();
  private readonly index = new FilterIndex<Held>();
  private readonly behind = new Set<Held>();
  private tick = 0;

  constructor(
    private readonly history: ChangeHistory,
    private readonly behindTicks: number,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /**
   * Answers `poll` now or holds it; returns how to drop it unanswered (its asker left). A replica
   * that is not `serving` (no leader: it may be cut off from its group) answers what it has but
   * holds nothing: a watcher waiting on it would wait for changes it cannot get, so it says
   * `behind` and the watcher's node asks another member (etcd's require-leader watches).
   */
  serve(poll: LocalPoll, serving = true): () => void {
    const after = poll.after ?? this.history.applied;
    const read = this.history.read(after, poll.filter, poll.maxBytes, MAX_SCANNED_PER_READ);
    const now = (): (() => void) => {
      poll.answer(read);
      return () => {};
    };
    // Something to say, or a scan cut short: the watcher continues from the cursor at once.
    if (read === 'compacted' || poll.waitTicks === 0 || (read !== 'behind' && !this.quiet(read)))
      return now();
    if (!serving) {
      poll.answer('behind');
      return () => {};
    }
    const behind = read === 'behind';
    const waitTicks = behind ? Math.min(poll.waitTicks, this.behindTicks) : poll.waitTicks;
    const held: Held = {
      poll,
      position: after,
      behind,
      deadlineTick: this.tick + Math.max(1, waitTicks),
    };
    this.held.add(held);
    if (behind) this.behind.add(held);
    else this.index.add(poll.filter, held);
    return () => this.drop(held);
  }

  /** Entries were applied (`events`, now in the history) through `applied`. */
  onApplied(events: readonly WatchEvent[], applied: Zxid): void {
    if (this.held.size === 0) return;
    const matched = new Set<Held>();
    for (const event of events) {
      for (const change of event.changes) this.index.matching(change.key, matched);
    }
    for (const held of matched) {
      const { filter, maxBytes } = held.poll;
      this.answer(held, matchingPart(events, filter, maxBytes, applied));
    }
    if (this.behind.size === 0) return;
    for (const held of [...this.behind]) {
      if (applied < held.position) continue;
      this.behind.delete(held);
      held.behind = false;
      const { filter, maxBytes } = held.poll;
      const read = this.history.read(held.position, filter, maxBytes, MAX_SCANNED_PER_READ);
      if (this.quiet(read)) this.index.add(filter, held);
      else this.answer(held, read);
    }
  }

  /** Nothing to say yet: no matching change through everything this replica has applied. */
  private quiet(read: HistoryRead): boolean {
    return (
      typeof read === 'object' && read.events.length === 0 && read.cursor === this.history.applied
    );
  }

  /**
   * The history restarted or was cut back (ChangeHistory.restore) from `previousApplied`: each
   * waiting poll saw nothing through it, and goes on from there (behind or compacted, it finds
   * another member). Those still waiting for this replica to catch up wait on.
   */
  onRestored(previousApplied: Zxid): void {
    for (const held of [...this.held]) {
      if (held.behind) continue;
      this.answer(held, emptyAt(previousApplied));
    }
  }

  onTick(): void {
    this.tick++;
    for (const held of [...this.held]) if (held.deadlineTick <= this.tick) this.end(held);
  }

  /** Every held poll answered with what it has (the replica is going away). */
  releaseAll(): void {
    for (const held of [...this.held]) this.end(held);
  }

  /** Its wait is over: behind, or nothing matched through what is applied now. */
  private end(held: Held): void {
    this.answer(held, held.behind ? 'behind' : emptyAt(this.history.applied));
  }

  private drop(held: Held): void {
    if (!this.held.delete(held)) return;
    if (held.behind) this.behind.delete(held);
    else this.index.remove(held.poll.filter, held);
  }

  private answer(held: Held, read: HistoryRead): void {
    this.drop(held);
    held.poll.answer(read);
  }
}

/**
 * The part of `events` (all after the poll's position: nothing matched before them) that
 * `filter` matches, whole entries, up to the one that brings it to `maxBytes`.
 */
function matchingPart(
  events: readonly WatchEvent[],
  filter: WatchFilter,
  maxBytes: number,
  applied: Zxid,
): HistoryRead {
  const matching: WatchEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const part = eventMatching(filter, event);
    if (part === null) continue;
    matching.push(part);
    bytes += eventBytes(part);
    if (bytes >= maxBytes) return { events: matching, cursor: event.zxid };
  }
  return { events: matching, cursor: applied };
}

function emptyAt(cursor: Zxid): HistoryRead {
  return { events: [], cursor };
}
