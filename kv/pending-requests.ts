import type { SeededRandom } from '../components/random/seeded-random.js';

/** What every pending request records; the user adds where its answer goes. */
export interface PendingRequest {
  /** A write may have happened when its answer is lost (504); a read did not (503). */
  readonly write: boolean;
}

/**
 * Requests this component sent elsewhere and still waits on, by request id, each with a
 * deadline in ticks. The overlay (to another group) and the replica (to its leader) both
 * forward through one of these, so a request is answered exactly once: by its response, by
 * its deadline, or when the waiting side gives up on all of them (`takeAll`).
 */
export class PendingRequests<T extends PendingRequest> {
  /** Each request as it was added, beside its deadline: callers get their own object back. */
  private readonly pending = new Map<
    number,
    { readonly request: T; readonly deadlineTick: number }
  >();
  /** A random start, so an answer meant for an earlier incarnation of this node never matches. */
  private nextId: number;
  private tick = 0;

  constructor(
    random: SeededRandom,
    private readonly timeoutTicks: number,
  ) {
    this.nextId = random.int(1, 2 ** 52);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Records `request` and returns the id to send it under. */
  add(request: T): number {
    const id = this.nextId++;
    this.pending.set(id, { request, deadlineTick: this.tick + this.timeoutTicks });
    return id;
  }

  peek(id: number): T | undefined {
    return this.pending.get(id)?.request;
  }

  /** Removes and returns the request: the caller answers it. */
  take(id: number): T | undefined {
    const entry = this.pending.get(id);
    if (entry !== undefined) this.pending.delete(id);
    return entry?.request;
  }

  /** Advances the clock; returns the requests whose deadline has come, removed. */
  expire(): T[] {
    this.tick++;
    const expired: T[] = [];
    // One timeout for all, so insertion order is deadline order: stop at the first one due later.
    for (const [id, { request, deadlineTick }] of this.pending) {
      if (deadlineTick > this.tick) break;
      this.pending.delete(id);
      expired.push(request);
    }
    return expired;
  }

  /** Removes and returns every request. */
  takeAll(): T[] {
    const all = [...this.pending.values()].map((entry) => entry.request);
    this.pending.clear();
    return all;
  }
}
