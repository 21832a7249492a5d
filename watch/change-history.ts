import assert from 'node:assert/strict';
import type { Zxid } from '../kv/zxid.js';
import type { EntryChanges } from '../replica/applied-changes-port.js';
import { EventChunks } from './event-chunks.js';
import { eventMatching } from './watch-filter.js';
import {
  WATCH_VALUE_MAX_BYTES,
  type WatchChange,
  type WatchEvent,
  type WatchFilter,
} from './watch-port.js';

/** How much history a replica keeps: whichever bound is reached first drops the oldest. */
export interface HistoryLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/**
 * What one change counts toward the byte bound beyond its key (two bytes a UTF-16 unit) and
 * value: the measure of a change as objects, kept so that `maxBytes` bounds the batches built
 * from it too; encoded (event-chunks.ts) a change takes less.
 */
const CHANGE_OVERHEAD_BYTES = 64;

/** A read of the history: the matching events in (after, cursor], or why there are none. */
export type HistoryRead =
  | { readonly events: WatchEvent[]; readonly cursor: Zxid }
  /** Changes right after `after` are no longer held here (or never were: a restart). */
  | 'compacted'
  /** This replica has not applied `after` yet. */
  | 'behind';

/**
 * The recent applied changes of this node's group, oldest first, bounded by count and bytes
 * (etcd keeps revisions until compaction; here the bound is memory, not time). Every change
 * after `floor` through `applied` is held, so a watcher whose cursor is at or after `floor` is
 * served exactly; one before it is told `compacted`, never given a gap.
 */
export class ChangeHistory {
  private readonly held = new EventChunks();
  private floorValue: Zxid;
  private appliedValue: Zxid;
  private bytesValue = 0;

  constructor(
    readonly group: number,
    applied: Zxid,
    private readonly limits: HistoryLimits,
  ) {
    this.floorValue = applied;
    this.appliedValue = applied;
  }

  /** Changes after this zxid are held. */
  get floor(): Zxid {
    return this.floorValue;
  }

  /** The replica has applied everything through this zxid. */
  get applied(): Zxid {
    return this.appliedValue;
  }

  get length(): number {
    return this.held.length;
  }

  get bytes(): number {
    return this.bytesValue;
  }

  /** Takes in entries applied as committed; returns them as events (for waiting watchers). */
  append(entries: readonly EntryChanges[], applied: Zxid): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const entry of entries) {
      assert(entry.zxid > this.appliedValue, 'applied entries come in zxid order');
      const event = eventOf(entry);
      const bytes = eventBytes(event);
      this.held.append(event, bytes);
      this.bytesValue += bytes;
      this.appliedValue = entry.zxid;
      events.push(event);
    }
    assert(applied >= this.appliedValue, 'the applied zxid covers the entries applied');
    this.appliedValue = applied;
    this.evict();
    return events;
  }

  /**
   * The replica loaded its state at `applied`. Behind what is held (a reload after a failed
   * write), the entries after it go and come back as they are applied again, the same (they are
   * committed); the floor stays, or comes down to `applied`.
   * Beyond it (a snapshot installed), what lies between is unknown here: the history restarts.
   * At it (a reload that lost nothing), everything held stays: committed entries never change.
   */
  restore(applied: Zxid): void {
    if (applied > this.appliedValue) {
      this.held.clear();
      this.bytesValue = 0;
      this.floorValue = applied;
    } else {
      while ((this.held.newestZxid() ?? -Infinity) > applied) {
        this.bytesValue -= this.held.dropNewest();
      }
      this.floorValue = Math.min(this.floorValue, applied);
    }
    this.appliedValue = applied;
  }

  /**
   * The events after `after` that match `filter`, whole entries, in zxid order: up to the first
   * that brings their values to `maxBytes`, and looking at no more than `maxScanned` entries
   * (a watcher of rare keys far behind is served in steps, not in one long handler).
   */
  read(after: Zxid, filter: WatchFilter, maxBytes: number, maxScanned: number): HistoryRead {
    if (after < this.floorValue) return 'compacted';
    if (after > this.appliedValue) return 'behind';
    const events: WatchEvent[] = [];
    let bytes = 0;
    let scanned = 0;
    let cursor = this.appliedValue;
    this.held.forEachAfter(after, (event, counted) => {
      const matching = eventMatching(filter, event);
      if (matching !== null) {
        events.push(matching);
        bytes += matching === event ? counted : eventBytes(matching);
      }
      if (bytes < maxBytes && ++scanned < maxScanned) return true;
      cursor = event.zxid;
      return false;
    });
    return { events, cursor };
  }

  private evict(): void {
    const { maxEntries, maxBytes } = this.limits;
    while (this.held.length > maxEntries || (this.bytesValue > maxBytes && this.held.length > 0)) {
      const oldest = this.held.dropOldest();
      this.bytesValue -= oldest.counted;
      this.floorValue = oldest.zxid;
    }
  }
}

/**
 * The event of an applied entry. Its values are views into the log entries' payloads, not
 * copies: the event lives only while the held polls are answered, and the history keeps its
 * own encoded copy (event-chunks.ts).
 */
function eventOf(entry: EntryChanges): WatchEvent {
  const changes = entry.changes.map(({ key, value }): WatchChange => {
    if (value === undefined) return { key, type: 'delete' };
    if (value.byteLength > WATCH_VALUE_MAX_BYTES) return { key, type: 'put', valueOmitted: true };
    return { key, type: 'put', value };
  });
  const first = changes[0]!.type;
  const type = entry.txn || changes.some((c) => c.type !== first) ? 'txn' : first;
  return { zxid: entry.zxid, type, changes };
}

/** What an event costs the history and a batch: its keys, values and a fixed overhead a change. */
export function eventBytes(event: WatchEvent): number {
  let bytes = 0;
  for (const change of event.changes) {
    bytes += CHANGE_OVERHEAD_BYTES + change.key.length * 2 + (change.value?.byteLength ?? 0);
  }
  return bytes;
}
