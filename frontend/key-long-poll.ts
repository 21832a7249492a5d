import { performance } from 'node:perf_hooks';
import type { Routed } from '../overlay/routing-port.js';
import { WATCH_MAX_WAIT_MS } from '../watch/watch-port.js';
import type { Polls } from './watch-poller.js';
import { secondsParam } from './watch-request.js';

/**
 * `GET /kv/<key>?wait=<s>` with `If-None-Match: "<v>"` or `?version=<v>` (README, "Watching
 * keys"): the version the client has seen (0: it saw the key absent) and how long to wait for
 * another. Null: an ordinary read. A string: why the request is malformed.
 */
export interface LongPollAsk {
  readonly version: number;
  readonly waitMs: number;
}

const VERSION = /^(0|[1-9][0-9]{0,15})$/;

export function longPollAskOf(
  query: Record<string, string | string[] | undefined>,
  ifNoneMatch: string | string[] | undefined,
): LongPollAsk | null | 'BadWait' | 'BadCondition' {
  const { wait, version } = query;
  // A plain GET has ignored If-None-Match so far: only a quoted version makes it conditional.
  const header =
    typeof ifNoneMatch === 'string' ? /^"(0|[1-9][0-9]{0,15})"$/.exec(ifNoneMatch.trim()) : null;
  if (wait === undefined && version === undefined && header === null) return null;
  if (Array.isArray(wait) || Array.isArray(version)) return 'BadCondition';
  const waitMs = wait === undefined ? 0 : secondsParam(wait, true);
  if (waitMs === null || waitMs > WATCH_MAX_WAIT_MS) return 'BadWait';
  const named = version ?? header?.[1];
  if (named === undefined || !VERSION.test(named)) return 'BadCondition';
  const number = Number(named);
  return Number.isSafeInteger(number) ? { version: number, waitMs } : 'BadCondition';
}

/** How a long-poll ends: an answer to send as a read's, 304 with the last read, or 503. */
export type LongPollEnd =
  | { readonly kind: 'answer'; readonly routed: Routed }
  | { readonly kind: 'notModified'; readonly routed: Routed }
  | { readonly kind: 'unavailable' };

/** The version a read saw: the key's zxid, 0 when absent; null when the read failed. */
function versionOf(routed: Routed): number | null {
  const { outcome } = routed;
  if (outcome.status === 200) return outcome.version;
  return outcome.status === 404 ? 0 : null;
}

/**
 * Waits for `key`'s version to differ from `ask.version`. Every answer comes from a
 * linearizable read, so it is never older than the version named; between reads it waits on
 * the key's group's change history from the zxid the last read was served at, and reads again
 * when a change of the key comes (or the history no longer reaches back that far).
 */
export async function keyLongPoll(
  key: string,
  ask: LongPollAsk,
  read: (key: string) => Promise<Routed>,
  polls: Polls,
  closed: () => boolean,
): Promise<LongPollEnd> {
  const deadline = performance.now() + ask.waitMs;
  for (;;) {
    const routed = await read(key);
    const version = versionOf(routed);
    if (version === null || version !== ask.version) return { kind: 'answer', routed };
    let after = routed.served.zxid;
    for (;;) {
      const remaining = Math.ceil(deadline - performance.now());
      if (remaining <= 0 || closed()) return { kind: 'notModified', routed };
      const answer = await polls.poll({
        group: routed.group,
        after,
        filter: { keys: [key], prefixes: [] },
        waitMs: remaining,
        // Whether the key changed is all that matters here, not what to.
        maxBytes: 1,
      }).answer;
      if (closed()) return { kind: 'notModified', routed };
      if (answer.kind === 'WatchEnded') {
        if (answer.reason === 'unavailable') return { kind: 'unavailable' };
        break; // compacted: only a new read can tell
      }
      if (answer.events.length > 0) break;
      after = Math.max(after, answer.cursor);
    }
  }
}
