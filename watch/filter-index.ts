import type { WatchFilter } from './watch-port.js';

/**
 * Which of many filters match a key, found by looking the key up rather than by trying every
 * filter: the key itself among the watched keys, and each of its prefixes of a watched length
 * among the watched prefixes. A change costs a few map lookups however many watchers wait, so
 * a thousand idle watchers do not slow the apply path (etcd's slow-watcher problem).
 */
export class FilterIndex<T> {
  private readonly keys = new Map<string, Set<T>>();
  private readonly prefixes = new Map<string, Set<T>>();
  /** Distinct prefix lengths watched, each with how many distinct prefixes have it. */
  private readonly lengths = new Map<number, number>();

  add(filter: WatchFilter, item: T): void {
    for (const key of new Set(filter.keys)) addTo(this.keys, key, item);
    for (const prefix of new Set(filter.prefixes)) {
      if (addTo(this.prefixes, prefix, item))
        this.lengths.set(prefix.length, (this.lengths.get(prefix.length) ?? 0) + 1);
    }
  }

  remove(filter: WatchFilter, item: T): void {
    for (const key of new Set(filter.keys)) removeFrom(this.keys, key, item);
    for (const prefix of new Set(filter.prefixes)) {
      if (!removeFrom(this.prefixes, prefix, item)) continue;
      const left = this.lengths.get(prefix.length)! - 1;
      if (left === 0) this.lengths.delete(prefix.length);
      else this.lengths.set(prefix.length, left);
    }
  }

  /** Adds to `into` every item whose filter matches `key`. */
  matching(key: string, into: Set<T>): void {
    for (const item of this.keys.get(key) ?? []) into.add(item);
    for (const length of this.lengths.keys()) {
      if (length > key.length) continue;
      for (const item of this.prefixes.get(key.slice(0, length)) ?? []) into.add(item);
    }
  }
}

/** Adds `item` under `name`; true when `name` was not there before. */
function addTo<T>(map: Map<string, Set<T>>, name: string, item: T): boolean {
  const set = map.get(name);
  if (set !== undefined) {
    set.add(item);
    return false;
  }
  map.set(name, new Set([item]));
  return true;
}

/** Removes `item` from under `name`; true when nothing is left there. */
function removeFrom<T>(map: Map<string, Set<T>>, name: string, item: T): boolean {
  const set = map.get(name);
  if (set === undefined || !set.delete(item)) return false;
  if (set.size > 0) return false;
  map.delete(name);
  return true;
}
