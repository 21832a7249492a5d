import {
  FORWARDED_REQUEST_TIMEOUT_MS,
  MAX_REQUESTS_IN_FLIGHT_COUNT,
  ROUTED_REQUEST_TIMEOUT_MS,
} from '../components/limits.js';
import type { FailureDetectorInit } from '../components/fd/failure-detector.js';
import type { OverlayInit } from '../overlay/overlay.js';
import { DEFAULT_REPLICA_TIMING, type ReplicaConfig } from '../replica/replica-config.js';

/**
 * The tuning of a production node, each number with its reason. Sizes, counts and request
 * timeouts that must fit together live in components/limits.ts; this file only turns them
 * into the units each component counts in.
 */

/** A timeout in milliseconds as whole ticks, rounded up so it never ends early. */
export function ticksOf(ms: number, tickMs: number): number {
  return Math.ceil(ms / tickMs);
}

export const FAILURE_DETECTOR_TIMING = {
  // Heartbeats are a few bytes on connections that are open anyway; ten a second lets the
  // overlay steer around a dead group member within half a second.
  heartbeatMs: 100,
  // 0.5 s of silence before the first suspicion: a GC pause or a burst of large values on the
  // same connection delays a heartbeat by a few periods, not by five.
  initialTimeoutTicks: 5,
  // Each false suspicion widens that peer's window by 0.2 s, so a slow but live peer stops
  // being suspected after a few mistakes (the detector is eventually perfect).
  timeoutIncrementTicks: 2,
} as const satisfies Partial<FailureDetectorInit>;

/**
 * How often a node without a lookup table checks in with the bootstrap node. Formation
 * waits for the last node to check in, so this bounds the wait after it starts; a check-in
 * is one small message, cheap at five a second.
 */
export const CHECK_IN_MS = 200;
/** A node the cluster formed without exits this long after it is told (its log line first). */
export const EXCLUDED_EXIT_MS = 2_000;

const OVERLAY_TICK_MS = 100;

export const OVERLAY_TIMING = {
  // The overlay's deadline sweep and leader queries run on this tick; 0.1 s is fine enough
  // for timeouts counted in seconds.
  tickMs: OVERLAY_TICK_MS,
  // The outer wait of a request sent to another group's member (limits.ts orders it after the
  // replica's inner wait).
  requestTimeoutTicks: ticksOf(ROUTED_REQUEST_TIMEOUT_MS, OVERLAY_TICK_MS),
  // Once a second each node asks every other group who leads it: leaders change rarely, and a
  // request that meets a stale leader is forwarded by the member it reaches anyway.
  leaderQueryTicks: 10,
} as const satisfies Partial<OverlayInit>;

const WATCH_TICK_MS = 100;

export const WATCH_TIMING = {
  // Held polls end and relayed polls move to another member on this tick: waits are seconds.
  tickMs: WATCH_TICK_MS,
  // A member answers a held poll at its deadline; two seconds more covers a loaded node's
  // queues before another member is asked instead.
  answerGraceMs: 2_000,
  // Each held poll is a few hundred bytes and one filter match per applied change.
  maxHeldPolls: 16_384,
} as const;

/**
 * The change history each replica keeps so a watcher can resume from its cursor: at 2,500
 * writes a second, 50,000 entries is 20 s of a watcher being away (minutes at ordinary rates);
 * 32 MiB bounds it when values are large (values over 64 KiB are not kept at all). The events
 * are kept encoded in 1 MiB chunks outside the JS heap (watch/event-chunks.ts): as objects, seven
 * per change, they were most of what each scavenge had to walk. The limits stay where they were
 * set when they lived in the heap (100,000 entries and 64 MiB took a node's heap above 300 MiB
 * under bench:scale, 2026-11-30), since a watcher replaying them decodes them back into it.
 */
export const WATCH_HISTORY = { maxEntries: 50_000, maxBytes: 32 * 1024 * 1024 } as const;

/** Client requests in flight at one HTTP frontend before new ones get 503. */
export const MAX_IN_FLIGHT = MAX_REQUESTS_IN_FLIGHT_COUNT;

/** A log flush slower than this is logged at warn (ZooKeeper's fsync.warningthresholdms). */
export const SLOW_FSYNC_MS = 1_000;

/**
 * Shutdown waits this long at most for the replica to stop and its last messages (a leader's
 * Close to each follower) to reach the socket. Writing a few frames to loopback or a LAN
 * takes microseconds; the bound only keeps a wedged peer from holding up the exit.
 */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 1_000;

/**
 * The replica's timing: the replica's own defaults, its forwarded-request timeout from
 * limits.ts in its ticks, then the caller's overrides (tests).
 */
export function replicaTiming(overrides: Partial<ReplicaConfig> = {}) {
  const tickMs = overrides.tickMs ?? DEFAULT_REPLICA_TIMING.tickMs;
  return {
    ...DEFAULT_REPLICA_TIMING,
    requestTimeoutTicks: ticksOf(FORWARDED_REQUEST_TIMEOUT_MS, tickMs),
    ...overrides,
  };
}
