import { MAX_KEY_BYTES } from '../components/limits.js';
import { WATCH_FILTER_MAX_ENTRIES, type WatchEvent, type WatchFilter } from './watch-port.js';

export function filterMatches(filter: WatchFilter, key: string): boolean {
  return filter.keys.includes(key) || filter.prefixes.some((prefix) => key.startsWith(prefix));
}

/** `event` cut down to the changes `filter` matches; null when none does. */
export function eventMatching(filter: WatchFilter, event: WatchEvent): WatchEvent | null {
  const changes = event.changes.filter((change) => filterMatches(filter, change.key));
  if (changes.length === 0) return null;
  return changes.length === event.changes.length ? event : { ...event, changes };
}

/** Why `filter` cannot be served (it came from a client or a peer), or null. */
export function filterProblem(filter: WatchFilter): string | null {
  const entries = [...filter.keys, ...filter.prefixes];
  if (entries.length === 0) return 'a watch needs at least one key or prefix';
  if (entries.length > WATCH_FILTER_MAX_ENTRIES)
    return `at most ${WATCH_FILTER_MAX_ENTRIES} keys and prefixes in one watch`;
  for (const entry of entries) {
    if (Buffer.byteLength(entry, 'utf8') > MAX_KEY_BYTES) return 'a key or prefix is too long';
  }
  return null;
}
