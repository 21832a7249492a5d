import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ChangeJson } from '../frontend/watch-json.js';
import { KvError, Unavailable, errorOfAnswer } from './kv-errors.js';

/** What to watch (README, "Watching keys"). */
export interface WatchOptions {
  readonly key?: string | readonly string[];
  readonly prefix?: string | readonly string[];
  /** Resume after this cursor (an event's `cursor`); default: from now. */
  readonly from?: string;
  /** A `progress` message after this many seconds without a matching change (0.001…300). */
  readonly progressSeconds?: number;
  /** Ends the iteration (as `break` does). */
  readonly signal?: AbortSignal;
}

/** One change of an event, as the node sends it (frontend/watch-json.ts: one shape, declared once). */
export type WatchedChange = ChangeJson;

/**
 * One message of a watch: a change event (every matching change one zxid made in one group),
 * or `progress` (nothing matched up to `cursor`). Either way `cursor` resumes right after it.
 */
export type WatchMessage =
  | {
      readonly type: 'put' | 'delete' | 'txn';
      readonly group: number;
      readonly zxid: string;
      readonly changes: readonly WatchedChange[];
      readonly cursor: string;
    }
  | { readonly type: 'progress'; readonly cursor: string };

/** What `listAndWatch()` sends besides WatchMessages, before its changes. */
export type ListedMessage =
  /** The listing is complete: the changes after `cursor` follow. */
  | { readonly type: 'synced'; readonly cursor: string }
  /** A key as it is now (`version` its zxid). */
  | {
      readonly type: 'item';
      readonly key: string;
      readonly version: string;
      readonly value?: string;
      readonly valueBase64?: string;
    }
  /** The listing starts over: forget the items it sent so far. */
  | { readonly type: 'reset' };

/**
 * The watch's cursor can no longer be served: the changes after it are compacted away
 * (`Compacted`), or the cluster's groups changed since it was made (`CursorTableChanged`).
 * Read the keys again and watch from now.
 */
export class CursorGone extends KvError {}

/** What the iterator needs of the client: nodes to pick from, and one GET on one of them. */
export interface WatchTransport {
  /** The client was closed: the watch ends. */
  closed(): boolean;
  pick(): number;
  /** The node's connection failed: skip it for a while. */
  failed(node: number): void;
  open(
    node: number,
    path: string,
    headers: Record<string, string>,
    options: { bodyTimeout: number; signal?: AbortSignal },
  ): Promise<Dispatcher.ResponseData>;
}

const EVENT_TYPES = new Set(['put', 'delete', 'txn']);
/** The server's poll wait without `progress` (frontend/watch-request.ts): a keep-alive at least this often. */
const SERVER_WAIT_MS = 30_000;

function query(options: WatchOptions, list: boolean): string {
  const params = new URLSearchParams();
  if (list) params.append('list', '1');
  for (const key of [options.key ?? []].flat()) params.append('key', key);
  for (const prefix of [options.prefix ?? []].flat()) params.append('prefix', prefix);
  if (options.progressSeconds !== undefined)
    params.append('progress', String(options.progressSeconds));
  return params.toString();
}

/** A stream's `event: error`: Compacted ends the watch, anything else moves it to another node. */
function streamError(data: string): KvError {
  let error = 'Unavailable';
  try {
    error = (JSON.parse(data) as { error?: string }).error ?? error;
  } catch {
    // not JSON: a node that is not a zabkv node
  }
  return error === 'Compacted'
    ? new CursorGone('the changes after the cursor are no longer kept', 410, 'Compacted')
    : new Unavailable(`the stream ended: ${error}`, error, 0);
}

/**
 * The messages of a watch, across node failures: it holds one SSE stream to one node, and
 * when that stream breaks (the node died, drained, or lost its group's history source) opens
 * another, on the next node, with `Last-Event-ID` = the cursor of the last message, so every
 * change comes exactly once and in order per group. It ends only when the consumer stops,
 * or with the error of an answer that retrying cannot change (CursorGone, 400, 401, 403).
 */
export async function* watchMessages(
  transport: WatchTransport,
  options: WatchOptions & { readonly list?: boolean },
): AsyncGenerator<WatchMessage | ListedMessage> {
  if (options.list === true && options.from !== undefined)
    throw new Error('watch: list and from exclude each other');
  const waitMs =
    options.progressSeconds === undefined ? SERVER_WAIT_MS : options.progressSeconds * 1000;
  // Two missed keep-alives: the node or the path to it is gone.
  const bodyTimeout = 2 * Math.max(waitMs, 1_000) + 5_000;
  let cursor = options.from;
  let failures = 0;
  let itemsSent = false;
  const aborted = () => options.signal?.aborted === true || transport.closed();
  while (!aborted()) {
    if (failures > 0) {
      const backoff = Math.min(2_000, 50 * 2 ** failures) * (0.5 + Math.random() / 2);
      try {
        await sleep(backoff, undefined, options.signal ? { signal: options.signal } : {});
      } catch {
        return; // aborted
      }
    }
    // Listed until synced; from then on, resumed from the cursor.
    const listing = options.list === true && cursor === undefined;
    if (listing && itemsSent) {
      itemsSent = false;
      yield { type: 'reset' };
    }
    const path = `/watch?${query(options, listing)}`;
    const node = transport.pick();
    let response: Dispatcher.ResponseData;
    try {
      response = await transport.open(
        node,
        path,
        {
          accept: 'text/event-stream',
          ...(cursor === undefined ? {} : { 'last-event-id': cursor }),
        },
        { bodyTimeout, ...(options.signal ? { signal: options.signal } : {}) },
      );
    } catch {
      if (aborted()) return;
      transport.failed(node);
      failures++;
      continue;
    }
    if (response.statusCode >= 300) {
      const error = errorOfAnswer(
        response.statusCode,
        response.headers,
        await response.body.text(),
      );
      if (error instanceof Unavailable) {
        failures++;
        continue;
      }
      if (error.status === 410 || error.code === 'CursorTableChanged')
        throw new CursorGone(error.message, error.status, error.code);
      throw error;
    }
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => queue.push(event) });
    const body = response.body;
    // stream: a character split across two chunks is decoded whole.
    const utf8 = new TextDecoder();
    try {
      stream: for await (const chunk of body) {
        parser.feed(utf8.decode(chunk as Buffer, { stream: true }));
        for (const event of queue.splice(0)) {
          if (event.event === 'error') {
            const error = streamError(event.data);
            if (error instanceof CursorGone) throw error;
            break stream;
          }
          if (event.event === 'item') {
            itemsSent = true;
            yield { type: 'item', ...(JSON.parse(event.data) as { key: string; version: string }) };
            continue;
          }
          if (event.id === undefined) continue;
          cursor = event.id;
          failures = 0;
          if (event.event === 'progress' || event.event === 'synced')
            yield { type: event.event, cursor };
          else if (event.event !== undefined && EVENT_TYPES.has(event.event)) {
            const data = JSON.parse(event.data) as {
              group: number;
              zxid: string;
              changes: WatchedChange[];
            };
            const type = event.event as 'put' | 'delete' | 'txn';
            yield { type, group: data.group, zxid: data.zxid, changes: data.changes, cursor };
          }
        }
      }
    } catch (error) {
      if (error instanceof KvError) throw error;
      // The connection broke (the node died) or went silent past bodyTimeout.
      transport.failed(node);
    } finally {
      body.destroy();
    }
    // However the stream ended, the watch goes on from its cursor, on the next node.
    failures++;
  }
}
