// Each node's /metrics once a second during a benchmark, kept as maxima: memory and the
// event loop's delay are worth their worst moment, not their last one.
import { request } from 'undici';

/**
 * The samples of a Prometheus text exposition, by metric name, with its labels as written
 * for a labelled one (`x_bucket{le="0.05"}`).
 */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match === null) continue;
    const value = Number(match[2]);
    if (!Number.isNaN(value)) samples.set(match[1]!, value);
  }
  return samples;
}

export interface NodeMaxima {
  heapBytes: number;
  rssBytes: number;
  /** prom-client resets its event-loop histogram at each scrape, so this is a max of maxima. */
  eventLoopLagMaxSec: number;
  /** The longest component turn of 20 ms or more (node/slow-turns.ts), 0 if none was. */
  slowTurnMaxSec: number;
  /** That turn less the GC pauses inside it (node/slow-turns.ts), 0 if not reported. */
  slowTurnWithoutGcMaxSec: number;
  /** The longest GC pause (node/gc-pauses.ts), 0 if not reported. */
  gcPauseMaxSec: number;
}

const HEAP = 'nodejs_heap_size_used_bytes';
const RSS = 'process_resident_memory_bytes';
const LAG = 'nodejs_eventloop_lag_max_seconds';
const SLOW_TURN = 'zabkv_slow_handler_turn_max_seconds';
const SLOW_TURN_WITHOUT_GC = 'zabkv_slow_handler_turn_without_gc_max_seconds';
const GC_PAUSE = 'zabkv_gc_pause_max_seconds';
const LEADER_CHANGES = 'zabkv_leader_changes_seen_total';

export async function scrape(url: string): Promise<Map<string, number> | null> {
  try {
    const response = await request(`${url}/metrics`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
    const text = await response.body.text();
    return response.statusCode === 200 ? parseSamples(text) : null;
  } catch {
    return null; // a node being restarted
  }
}

/** Every node's samples at once (null: a node that did not answer). */
export type Reading = readonly (Map<string, number> | null)[];

export async function readNodes(urls: readonly string[]): Promise<Reading> {
  return Promise.all(urls.map(scrape));
}

/** The leader changes each node had seen since its process started (null: no answer). */
export function leaderChangesIn(reading: Reading): (number | null)[] {
  return reading.map((samples) => samples?.get(LEADER_CHANGES) ?? null);
}

export async function leaderChangesSeen(urls: readonly string[]): Promise<(number | null)[]> {
  return leaderChangesIn(await readNodes(urls));
}

/** How many more leader changes the nodes answering both times saw between two readings. */
export function leaderChangesBetween(
  before: readonly (number | null)[],
  after: readonly (number | null)[],
): number {
  let changes = 0;
  before.forEach((b, i) => {
    const a = after[i];
    // A restarted node counts from zero again; its own count is left out, the others see it.
    if (b !== null && a !== null && a !== undefined && a >= b) changes = Math.max(changes, a - b);
  });
  return changes;
}

export class NodeSampler {
  private readonly maxima: NodeMaxima[];
  private readonly timer: NodeJS.Timeout;
  private windowLagMaxSec = 0;
  /** Counts the windows opened: a scrape begun before the current one does not count in it. */
  private window = 0;

  constructor(private readonly urls: readonly string[]) {
    this.maxima = urls.map(() => ({
      heapBytes: 0,
      rssBytes: 0,
      eventLoopLagMaxSec: 0,
      slowTurnMaxSec: 0,
      slowTurnWithoutGcMaxSec: 0,
      gcPauseMaxSec: 0,
    }));
    this.timer = setInterval(() => void this.sample(), 1_000);
  }

  /** The maxima per node since the sampler started. */
  get nodes(): readonly NodeMaxima[] {
    return this.maxima;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** From now on, `windowLagMaxMs` says the longest event-loop delay since (one window at a time). */
  openWindow(): void {
    this.windowLagMaxSec = 0;
    this.window++;
  }

  /**
   * The longest event-loop delay any node reported since `openWindow`, with `last` (a reading
   * taken meanwhile by someone else: each scrape resets the nodes' lag histogram).
   */
  windowLagMaxMs(last: Reading): number {
    const lags = last.map((samples) => samples?.get(LAG) ?? 0);
    return Math.max(this.windowLagMaxSec, ...lags) * 1000;
  }

  private async sample(): Promise<void> {
    const window = this.window;
    await Promise.all(
      this.urls.map(async (url, i) => {
        const samples = await scrape(url);
        if (samples === null) return;
        const max = this.maxima[i]!;
        max.heapBytes = Math.max(max.heapBytes, samples.get(HEAP) ?? 0);
        max.rssBytes = Math.max(max.rssBytes, samples.get(RSS) ?? 0);
        const lag = samples.get(LAG) ?? 0;
        max.eventLoopLagMaxSec = Math.max(max.eventLoopLagMaxSec, lag);
        if (window === this.window) this.windowLagMaxSec = Math.max(this.windowLagMaxSec, lag);
        max.slowTurnMaxSec = Math.max(max.slowTurnMaxSec, samples.get(SLOW_TURN) ?? 0);
        max.slowTurnWithoutGcMaxSec = Math.max(
          max.slowTurnWithoutGcMaxSec,
          samples.get(SLOW_TURN_WITHOUT_GC) ?? 0,
        );
        max.gcPauseMaxSec = Math.max(max.gcPauseMaxSec, samples.get(GC_PAUSE) ?? 0);
      }),
    );
  }
}
