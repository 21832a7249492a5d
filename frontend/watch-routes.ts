import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Routed } from '../overlay/routing-port.js';
import type { Need } from './access-tokens.js';
import type { ClusterStatus } from './cluster-status.js';
import type { HttpErrorCode } from './http-errors.js';
import { keyLongPoll, longPollAskOf } from './key-long-poll.js';
import type { AskGroup } from './list-pages.js';
import { placementOf } from './key-placement.js';
import { longPollBatch } from './watch-batch.js';
import { listMatching } from './watch-list.js';
import { PollScope, type Polls } from './watch-poller.js';
import { WATCH_ROUTE, planOf, type WatchPlan, type WatchQuery } from './watch-request.js';
import { hashTag } from '../bootstrap/lookup-table.js';
import { WatchStream, firstBatches, type WatchContext, type WatchMetrics } from './watch-stream.js';

export interface WatchRoutesInit {
  readonly registry: Registry;
  readonly status: () => ClusterStatus;
  readonly polls: Polls;
  /** Open watch streams and long-polls (JSON and key) at once; past it 503 TooManyWatchers. */
  readonly maxWatchers: number;
  /** Bytes of values one stream holds at most (one batch per group). */
  readonly maxBatchBytes: number;
  /** A stream whose reader takes nothing for this long is closed. */
  readonly stallMs: number;
  /** A linearizable read of a key, through the frontend's routing. */
  readonly read: (key: string) => Promise<Routed>;
  /** One group's part of a listing (`?list=1`), through the frontend's routing. */
  readonly range: AskGroup;
  readonly answerError: (reply: FastifyReply, code: HttpErrorCode, detail?: string) => FastifyReply;
  /** Answers a read as `GET /kv/<key>` does; or 304 Not Modified with its ETag and headers. */
  readonly answerRead: (reply: FastifyReply, routed: Routed, notModified: boolean) => void;
  readonly draining: () => boolean;
  /** A bug surfaced while serving a watch: logged; the client gets 500 or a closed stream. */
  readonly failed: (error: unknown) => void;
}

type WatchRequest = FastifyRequest<{ Querystring: WatchQuery }>;

/** One header's value: repeated headers are refused by the caller, so the first one. */
function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** JSON long-poll when the client asks for JSON and not for SSE; SSE otherwise (`curl -N`). */
function wantsJson(accept: string | undefined): boolean {
  return (
    accept !== undefined &&
    accept.includes('application/json') &&
    !accept.includes('text/event-stream')
  );
}

/**
 * Watches and long-polls on the HTTP API (issue 12): `GET /watch` as SSE or one JSON batch,
 * and `GET /kv/<key>?wait=`. Every open one is counted against `maxWatchers`, and is closed
 * when the node drains, so clients move to another node with their cursor.
 */
export class WatchRoutes {
  readonly metrics: WatchMetrics;
  /** How to end each open watch or long-poll. */
  private readonly open = new Set<() => void>();

  constructor(private readonly init: WatchRoutesInit) {
    const registers = [init.registry];
    this.metrics = {
      streams: new Gauge({
        name: 'zabkv_watch_streams',
        help: 'Watch streams (SSE) open at this node',
        registers,
      }),
      eventsSent: new Counter({
        name: 'zabkv_watch_events_sent_total',
        help: 'Watch events sent to clients by this node (SSE and JSON long-polls)',
        registers,
      }),
      slow: new Counter({
        name: 'zabkv_watch_slow_total',
        help: 'Times a watch stream waited for its reader to drain before polling on',
        registers,
      }),
      compacted: new Counter({
        // Not zabkv_watch_compacted_total: the watch service counts its polls ended so.
        name: 'zabkv_watch_streams_compacted_total',
        help: 'Watch streams and JSON long-polls of this node answered Compacted (410 or event: error)',
        registers,
      }),
      stalled: new Counter({
        name: 'zabkv_watch_streams_stalled_total',
        help: 'Watch streams closed because their reader took nothing for a minute',
        registers,
      }),
      longPolls: new Gauge({
        name: 'zabkv_watch_long_polls',
        help: 'Long-polls (GET /kv/<key>?wait= and JSON /watch) waiting at this node',
        registers,
      }),
    };
  }

  register(app: FastifyInstance): void {
    app.get(WATCH_ROUTE, (request: WatchRequest, reply) => this.watch(request, reply));
  }

  /** What a token needs for a watch: read rights on every key and prefix it names. */
  needsOf(query: unknown): Need[] {
    const q = (query ?? {}) as WatchQuery;
    const names = [q['key'] ?? [], q['prefix'] ?? []].flat();
    return names.length === 0
      ? [{ kind: 'status' }]
      : names.map((key) => ({ kind: 'read' as const, key }));
  }

  /** Ends every open watch and long-poll: the node is draining or stopping. */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  /**
   * `GET /kv/<key>` when it is a long-poll (`?wait=`, `?version=`, `If-None-Match: "<v>"`):
   * answered here, and true; false for an ordinary read.
   */
  keyGet(request: FastifyRequest, reply: FastifyReply, key: string): boolean {
    const ask = longPollAskOf(request.query as WatchQuery, request.headers['if-none-match']);
    if (ask === null) return false;
    if (typeof ask === 'string' || this.init.draining()) {
      this.init.answerError(reply, typeof ask === 'string' ? ask : 'ShuttingDown');
      return true;
    }
    const scope = new PollScope(this.init.polls);
    let closed = false;
    const release = this.admit(reply, () => {
      closed = true;
      scope.cancelAll();
    });
    if (release === null) return true;
    this.metrics.longPolls.inc();
    void keyLongPoll(key, ask, this.init.read, scope, () => closed)
      .then((end) => {
        if (reply.raw.destroyed) return;
        if (end.kind === 'unavailable') {
          this.init.answerError(reply, 'Unavailable', "the key's change history is unreachable");
        } else {
          this.init.answerRead(reply, end.routed, end.kind === 'notModified');
        }
      })
      .catch((error: unknown) => this.fail(reply, error))
      .finally(() => {
        this.metrics.longPolls.dec();
        release();
      });
    return true;
  }

  private watch(request: WatchRequest, reply: FastifyReply): FastifyReply {
    const { answerError } = this.init;
    // fastify answers HEAD with this GET handler, and Node writes nothing of a HEAD's body: a
    // stream would never send its headers, and hold a watch slot until the client left.
    if (request.method === 'HEAD') {
      return reply.header('content-type', 'text/event-stream; charset=utf-8').send();
    }
    if (this.init.draining()) return answerError(reply, 'ShuttingDown');
    if (Array.isArray(request.headers['last-event-id']))
      return answerError(reply, 'BadCursor', 'one Last-Event-ID');
    const plan = planOf(request.query, headerOf(request, 'last-event-id'), this.init.status());
    if ('refused' in plan) return answerError(reply, plan.refused, plan.detail);
    const scope = new PollScope(this.init.polls);
    let closed = false;
    let stream: WatchStream | null = null;
    const release = this.admit(reply, () => {
      closed = true;
      scope.cancelAll();
      stream?.close();
    });
    if (release === null) return reply;
    const context: WatchContext = {
      polls: scope,
      metrics: this.metrics,
      maxBatchBytes: this.init.maxBatchBytes,
      stallMs: this.init.stallMs,
    };
    const refuse = (reason: 'compacted' | 'unavailable') => {
      if (reason === 'compacted') {
        this.metrics.compacted.inc();
        return answerError(reply, 'Compacted');
      }
      return answerError(reply, 'Unavailable', "a group's change history is unreachable");
    };
    if (plan.list) {
      if (wantsJson(headerOf(request, 'accept'))) {
        release();
        return answerError(reply, 'BadWatch', 'list=1 is for SSE streams');
      }
      reply.hijack();
      stream = new WatchStream(plan, reply.raw, context, release, (error) =>
        this.init.failed(error),
      );
      void this.listThenFollow(plan, stream, context, () => closed).catch((error: unknown) => {
        this.init.failed(error);
        stream?.close();
      });
      return reply;
    }
    if (wantsJson(headerOf(request, 'accept'))) {
      this.metrics.longPolls.inc();
      void longPollBatch(plan, context, () => closed)
        .then((batch) => {
          if (reply.raw.destroyed) return;
          if ('kind' in batch) return refuse(batch.reason);
          this.metrics.eventsSent.inc(batch.events.length);
          return reply.send(batch);
        })
        .catch((error: unknown) => this.fail(reply, error))
        .finally(() => {
          this.metrics.longPolls.dec();
          release();
        });
      return reply;
    }
    // The first batches decide between 200 and an error before any SSE header is sent.
    void firstBatches(plan, context, () => closed)
      .then((first) => {
        if (closed || reply.raw.destroyed) return release();
        if (!Array.isArray(first)) {
          refuse(first.reason);
          return release();
        }
        reply.hijack();
        stream = new WatchStream(plan, reply.raw, context, release, (error) =>
          this.init.failed(error),
        );
        stream.start(first);
      })
      .catch((error: unknown) => {
        if (stream === null) this.fail(reply, error);
        else stream.close();
        release();
      });
    return reply;
  }

  /**
   * `?list=1`: every matching key (`event: item`), then `event: synced` with the cursor the
   * listing was read at, then the changes after it, less those the listing already showed.
   */
  private async listThenFollow(
    plan: WatchPlan,
    stream: WatchStream,
    context: WatchContext,
    closed: () => boolean,
  ): Promise<void> {
    const status = this.init.status();
    if (!status.formed) {
      stream.end({ kind: 'WatchEnded', id: 0, group: plan.groups[0]!, reason: 'unavailable' });
      return;
    }
    const listed = await listMatching(
      this.init.range,
      plan.tableVersion,
      plan.filter,
      (prefix, exact) =>
        exact || hashTag(prefix) !== null
          ? [placementOf(status, prefix)!.group]
          : status.groups.map((g) => g.id),
      (item) => stream.writeItem(item),
      closed,
    );
    if (closed()) return;
    if ('failed' in listed) {
      stream.end({ kind: 'WatchEnded', id: 0, group: plan.groups[0]!, reason: 'unavailable' });
      return;
    }
    const from = listed.start(plan.groups);
    const first = await firstBatches({ ...plan, from }, context, closed);
    if (closed()) return;
    if (!Array.isArray(first)) return stream.end(first);
    stream.listed = (group, key, zxid) => listed.covers(group, key, zxid);
    stream.start(first, from);
  }

  private fail(reply: FastifyReply, error: unknown): void {
    this.init.failed(error);
    if (!reply.sent && !reply.raw.headersSent) this.init.answerError(reply, 'Internal');
    else reply.raw.destroy();
  }

  /**
   * Counts a watch or long-poll in, with how to end it, and ends it when its client goes away;
   * null (and 503 answered) at the cap. The release it returns is idempotent.
   */
  private admit(reply: FastifyReply, close: () => void): (() => void) | null {
    if (this.open.size >= this.init.maxWatchers) {
      this.init.answerError(reply, 'TooManyWatchers');
      return null;
    }
    this.open.add(close);
    reply.raw.once('close', close);
    return () => {
      this.open.delete(close);
      reply.raw.off('close', close);
    };
  }
}
