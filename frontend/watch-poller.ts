import type {
  WatchBatch,
  WatchCancel,
  WatchEnded,
  WatchFilter,
  WatchPoll,
} from '../watch/watch-port.js';
import type { Zxid } from '../kv/zxid.js';

/** What a poll ends with: a batch, or why none will come. */
export type PollAnswer = WatchBatch | WatchEnded;

export interface PollRequest {
  readonly group: number;
  readonly after: Zxid | null;
  readonly filter: WatchFilter;
  readonly waitMs: number;
  readonly maxBytes: number;
}

/**
 * A poll in flight: its answer, and how to give it up (the watcher went away; the answer then
 * settles as `unavailable`, so that nothing awaits it forever).
 */
export interface PendingPoll {
  readonly answer: Promise<PollAnswer>;
  cancel(): void;
}

/** Whoever can poll: the frontend's poller, or a scope of it that one request gives up at once. */
export interface Polls {
  poll(request: PollRequest): PendingPoll;
}

/**
 * How long past its wait a poll may stay unanswered before the frontend stops waiting for it
 * and treats its group as unavailable: the Watch provider answers every poll, but one lost to
 * a bug (or a provider not connected) must not hold a client's stream open forever.
 */
export const POLL_GRACE_MS = 10_000;

/**
 * The frontend's side of the Watch port: gives each poll an id unique in this frontend, and
 * turns its one answer (WatchBatch or WatchEnded) back into the promise of whoever asked.
 */
export class WatchPoller implements Polls {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { readonly group: number; resolve(answer: PollAnswer): void; timer: NodeJS.Timeout }
  >();

  constructor(
    private readonly send: (event: WatchPoll | WatchCancel) => void,
    private readonly graceMs = POLL_GRACE_MS,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  poll(request: PollRequest): PendingPoll {
    const id = this.nextId++;
    let resolve: (answer: PollAnswer) => void = () => {};
    const answer = new Promise<PollAnswer>((r) => (resolve = r));
    const timer = setTimeout(() => this.drop(id), request.waitMs + this.graceMs);
    timer.unref();
    this.pending.set(id, { group: request.group, resolve, timer });
    this.send({ kind: 'WatchPoll', id, ...request });
    return { answer, cancel: () => this.drop(id) };
  }

  /** An answer from the provider; one for a poll given up already is ignored. */
  answered(answer: PollAnswer): void {
    const entry = this.pending.get(answer.id);
    if (entry === undefined) return;
    this.pending.delete(answer.id);
    clearTimeout(entry.timer);
    entry.resolve(answer);
  }

  private drop(id: number): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    this.send({ kind: 'WatchCancel', id });
    entry.resolve({ kind: 'WatchEnded', id, group: entry.group, reason: 'unavailable' });
  }

  /** Gives up every poll in flight (the frontend stops). */
  cancelAll(): void {
    for (const id of [...this.pending.keys()]) this.drop(id);
  }
}

/** The polls of one request, to give up together when its client goes away. */
export class PollScope implements Polls {
  private readonly open = new Set<PendingPoll>();

  constructor(private readonly poller: Polls) {}

  poll(request: PollRequest): PendingPoll {
    const pending = this.poller.poll(request);
    this.open.add(pending);
    void pending.answer.then(() => this.open.delete(pending));
    return pending;
  }

  cancelAll(): void {
    for (const pending of [...this.open]) pending.cancel();
  }
}
