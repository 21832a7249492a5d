import type { ServerResponse } from 'node:http';
import type { Counter, Gauge } from 'prom-client';
import type { Zxid } from '../kv/zxid.js';
import { formatCursor } from '../watch/watch-cursor.js';
import type { WatchBatch, WatchEnded } from '../watch/watch-port.js';
import { eventJson } from './watch-json.js';
import type { PendingPoll, PollAnswer, Polls } from './watch-poller.js';
import { DEFAULT_WATCH_WAIT_MS, type WatchPlan } from './watch-request.js';

/** The frontend's watch metrics (prom-client, the frontend's registry). */
export interface WatchMetrics {
  readonly streams: Gauge;
  readonly eventsSent: Counter;
  readonly slow: Counter;
  readonly compacted: Counter;
  /** Streams closed because their reader took nothing for WATCH_STALL_MS. */
  readonly stalled: Counter;
  readonly longPolls: Gauge;
}

export interface WatchContext {
  readonly polls: Polls;
  readonly metrics: WatchMetrics;
  /** Bytes of values one batch may carry: what one stream holds at most per group. */
  readonly maxBatchBytes: number;
  /** A stream whose socket does not drain for this long is closed (default WATCH_STALL_MS). */
  readonly stallMs: number;
}

/**
 * A reader that takes nothing of its stream for this long is cut off: it held its connection,
 * its watch slot and a batch per group for as long as it stayed connected, never polling again
 * (so never learning it was compacted), and 4096 of them filled the node's watch slots for
 * good. It resumes from the last `id:` it read, or learns then that it was compacted.
 */
export const WATCH_STALL_MS = 60_000;

/** The first poll of every group a watch needs, with no wait: where it starts, or why not. */
export async function firstBatches(
  plan: WatchPlan,
  context: WatchContext,
  closed: () => boolean,
): Promise<WatchBatch[] | WatchEnded> {
  const polls = plan.groups.map((group) =>
    context.polls.poll({
      group,
      after: plan.from?.get(group) ?? null,
      filter: plan.filter,
      waitMs: 0,
      maxBytes: batchBytes(plan, context),
    }),
  );
  const answers = await Promise.all(polls.map((poll) => poll.answer));
  const ended = answers.find((answer): answer is WatchEnded => answer.kind === 'WatchEnded');
  if (ended !== undefined || closed()) {
    for (const poll of polls) poll.cancel();
    return ended ?? { kind: 'WatchEnded', id: 0, group: plan.groups[0]!, reason: 'unavailable' };
  }
  return answers as WatchBatch[];
}

/** One stream holds at most one batch per group: together, about `maxBatchBytes`. */
export function batchBytes(plan: WatchPlan, context: WatchContext): number {
  return Math.max(64 * 1024, Math.floor(context.maxBatchBytes / plan.groups.length));
}

/**
 * One `GET /watch` Server-Sent Events stream: per group, one poll at a time, the next only
 * once the last batch is written and the socket has drained, so a slow reader is served from
 * the history ring at its own pace and holds at most a batch per group (it never slows apply:
 * the ring does not wait for it, and it is cut off with Compacted when it falls out of it).
 * Each event's `id:` is the whole cursor after it.
 */
export class WatchStream {
  private readonly position: Map<number, Zxid>;
  private readonly polls = new Map<number, PendingPoll>();
  private closed = false;
  /** The cursor last sent as an `id:`, so a progress event is sent only when it moved. */
  private lastId = '';
  private headersSent = false;
  /**
   * With `?list=1`: whether the listing already showed a change (of `key`, at `zxid`, in
   * `group`), which the stream then leaves out.
   */
  listed: (group: number, key: string, zxid: Zxid) => boolean = () => false;

  constructor(
    private readonly plan: WatchPlan,
    private readonly response: ServerResponse,
    private readonly context: WatchContext,
    private readonly onClose: () => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.position = new Map(plan.groups.map((group) => [group, plan.from?.get(group) ?? 0]));
    context.metrics.streams.inc();
    // Each group's loop may wait for 'drain' at once.
    response.setMaxListeners(plan.groups.length + 10);
    response.once('close', () => this.close());
  }

  /** Sends the SSE headers (once). */
  writeHead(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx and its kind buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
  }

  /** `event: item` (a listed key, `?list=1`); resolves once the socket can take more. */
  async writeItem(data: object): Promise<void> {
    this.writeHead();
    this.response.write(`event: item\ndata: ${JSON.stringify(data)}\n\n`);
    if (this.response.writableNeedDrain) await this.drained();
  }

  /**
   * Sends the headers and the first batches, then follows every group until closed. After a
   * listing (`synced`), `from` is where the listing was read, and `event: synced` names it first.
   */
  start(first: readonly WatchBatch[], synced?: ReadonlyMap<number, Zxid>): void {
    this.writeHead();
    if (synced !== undefined) {
      for (const [group, zxid] of synced) this.position.set(group, zxid);
      this.lastId = this.cursorText();
      this.response.write(`event: synced\nid: ${this.lastId}\ndata: {}\n\n`);
    }
    for (const batch of first) this.writeBatch(batch, false);
    // The first event names where the stream starts, so a client that sees nothing else can
    // still resume from there, with nothing missed in between.
    this.writeProgress();
    for (const group of this.plan.groups) {
      this.follow(group).catch((error: unknown) => {
        this.onError(error);
        this.close();
      });
    }
  }

  /** Ends the stream (the node shuts down, or the client went away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const poll of this.polls.values()) poll.cancel();
    this.polls.clear();
    this.context.metrics.streams.dec();
    if (!this.response.writableEnded) this.response.end();
    this.onClose();
  }

  private async follow(group: number): Promise<void> {
    while (!this.closed) {
      const poll = this.context.polls.poll({
        group,
        after: this.position.get(group)!,
        filter: this.plan.filter,
        waitMs: this.plan.progressMs ?? DEFAULT_WATCH_WAIT_MS,
        maxBytes: batchBytes(this.plan, this.context),
      });
      this.polls.set(group, poll);
      const answer: PollAnswer = await poll.answer;
      this.polls.delete(group);
      if (this.closed) return;
      if (answer.kind === 'WatchEnded') return this.end(answer);
      this.writeBatch(answer, true);
      if (this.response.writableNeedDrain) {
        this.context.metrics.slow.inc();
        await this.drained();
      }
    }
  }

  private writeBatch(batch: WatchBatch, keepAlive: boolean): void {
    const { group } = batch;
    let sent = 0;
    for (const whole of batch.events) {
      // Never backwards, never twice: a replica that answers from before the cursor (the
      // #15271 rule, features.md §1) has those events dropped here.
      if (whole.zxid <= this.position.get(group)!) continue;
      this.position.set(group, whole.zxid);
      const changes = whole.changes.filter((c) => !this.listed(group, c.key, whole.zxid));
      if (changes.length === 0) continue;
      const event = changes.length === whole.changes.length ? whole : { ...whole, changes };
      this.lastId = this.cursorText();
      const data = JSON.stringify(eventJson(group, event));
      this.response.write(`event: ${event.type}\nid: ${this.lastId}\ndata: ${data}\n\n`);
      sent++;
    }
    this.context.metrics.eventsSent.inc(sent);
    if (batch.cursor > this.position.get(group)!) this.position.set(group, batch.cursor);
    if (sent > 0 || !keepAlive) return;
    if (this.plan.progressMs !== null) this.writeProgress();
    else this.response.write(': keep-alive\n\n');
  }

  /** `event: progress` with the cursor, when it moved since the last `id:`. */
  private writeProgress(): void {
    const text = this.cursorText();
    if (text === this.lastId) {
      this.response.write(': keep-alive\n\n');
      return;
    }
    this.lastId = text;
    this.response.write(`event: progress\nid: ${text}\ndata: {}\n\n`);
  }

  /** Ends the stream with `event: error` (`reason`: why no change can follow). */
  end(ended: WatchEnded): void {
    this.writeHead();
    if (ended.reason === 'compacted') this.context.metrics.compacted.inc();
    const error = ended.reason === 'compacted' ? 'Compacted' : 'Unavailable';
    this.response.end(`event: error\ndata: ${JSON.stringify({ error, group: ended.group })}\n\n`);
    this.close();
  }

  private cursorText(): string {
    return formatCursor({ tableVersion: this.plan.tableVersion, groups: this.position });
  }

  /** Resolves once the socket drains or closes; closes the stream if it stalls (WATCH_STALL_MS). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const stalled = setTimeout(() => {
        this.context.metrics.stalled.inc();
        this.response.destroy();
      }, this.context.stallMs);
      const done = () => {
        clearTimeout(stalled);
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }
}
