import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, errors, type Dispatcher } from 'undici';
import { Indeterminate, KvError, Unavailable, errorOfAnswer, unquote } from './kv-errors.js';
import {
  watchMessages,
  type ListedMessage,
  type WatchMessage,
  type WatchOptions,
} from './watch-iterator.js';

export {
  Indeterminate,
  KvError,
  NotFound,
  PreconditionFailed,
  QuotaExceeded,
  Unauthorized,
  Unavailable,
} from './kv-errors.js';
export {
  CursorGone,
  type ListedMessage,
  type WatchMessage,
  type WatchOptions,
  type WatchedChange,
} from './watch-iterator.js';

export interface Versioned {
  readonly value: Buffer;
  readonly version: string;
}

/** `POST /txn`'s body: versions are decimal strings, "0" = the key is absent. */
export interface TxnRequest {
  readonly compare?: readonly { readonly key: string; readonly version: string }[];
  readonly success?: readonly TxnRequestOp[];
  readonly failure?: readonly TxnRequestOp[];
}

export type TxnRequestOp =
  | {
      readonly put: {
        readonly key: string;
        readonly value?: string;
        readonly valueBase64?: string;
      };
    }
  | { readonly delete: { readonly key: string } }
  | { readonly get: { readonly key: string } };

/** `POST /txn`'s answer: one result per op of the branch that ran. */
export interface TxnAnswer {
  readonly succeeded: boolean;
  readonly version: string;
  readonly results: readonly (
    | { readonly put: { readonly key: string; readonly version: string } }
    | { readonly delete: { readonly key: string; readonly deleted: boolean } }
    | {
        readonly get: {
          readonly key: string;
          readonly version: string;
          readonly value?: string;
          readonly valueBase64?: string;
        };
      }
  )[];
}

/** One key of a listing (`GET /kv?prefix=`): a value as UTF-8 text, else base64; none with keysOnly. */
export interface ListItem {
  readonly key: string;
  readonly version: string;
  readonly value?: string;
  readonly valueBase64?: string;
}

/** One page of a listing: `next` is the cursor of the page after it, null on the last one. */
export interface ListPage {
  readonly items: readonly ListItem[];
  readonly next: string | null;
  /**
   * The watch cursor (`t<table>;<group>=<zxid>,…`) of the earliest zxid each group was read at
   * over the pages so far: a watch from the last page's misses nothing the listing missed.
   */
  readonly revision: string;
}

export interface ListOptions {
  /** Keys per page (the server's default 1000, at most 10,000). */
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly consistency?: 'linearizable' | 'stale';
  /** Start after this cursor (a page's `next`) rather than at the first key. */
  readonly after?: string;
}

export interface WriteOptions {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: '*';
}

export interface ClientOptions {
  /** Node URLs; any node serves any key. Requests go round-robin, retries to the next node. */
  readonly nodes: readonly string[];
  /** Per request: headers and body must arrive within this. */
  readonly timeoutMs?: number;
  /** Attempts for an operation that provably did not happen (503, connection refused). */
  readonly attempts?: number;
  /** Keep-alive connections per node. */
  readonly connections?: number;
  /** A bearer token, sent as `Authorization: Bearer <token>` on every request. */
  readonly token?: string;
  /** PEM: the CA that signed the nodes' HTTPS certificates (default: the system's CAs). */
  readonly ca?: string | Buffer;
  /** PEM: a client certificate and its key, for nodes run with --client-cert-auth. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

/** How long a node whose connection failed is skipped before it is tried again. */
const SKIP_DOWN_MS = 1_000;

/**
 * 503s that a moment or another node resolves: a group electing its leader (Unavailable:
 * elections take a few hundred ms), a node shutting down, a connection refused. Retried after
 * 50 ms, doubling up to the node's Retry-After (whole seconds, too coarse for an election: a
 * client that waited it saw every failover last over a second). Load (Overloaded, Busy, too
 * many watchers) is waited out for Retry-After itself.
 */
const TRANSIENT_UNAVAILABLE = new Set(['Unavailable', 'ShuttingDown', 'ConnectionFailed']);

/**
 * How long to wait before attempt `attempt + 1` after a 503 `error`; `jitter` in [0.5, 1]
 * spreads clients that failed together.
 */
export function retryDelayMs(error: Unavailable, attempt: number, jitter: number): number {
  const hinted = error.retryAfterSeconds * 1000;
  if (TRANSIENT_UNAVAILABLE.has(error.code)) {
    return Math.min(Math.max(hinted, 50), 50 * 2 ** (attempt - 1)) * jitter;
  }
  return Math.max(Math.min(2_000, 50 * 2 ** attempt) * jitter, hinted * (attempt === 1 ? 0.1 : 1));
}

/**
 * The zabkv client over HTTP (undici). It retries only what provably did not happen: a 503
 * (after Retry-After, with jittered exponential backoff, on the next node) or a connection
 * that was refused before the request was sent. A write whose answer is lost or timed out is
 * never retried, by it or by undici (writes are sent as non-idempotent): it is Indeterminate.
 */
export class ZabkvClient {
  private readonly pools: Pool[];
  private next = 0;
  /** After close(): watches end instead of reconnecting. */
  private closed = false;
  /** How to end each open watch. */
  private readonly watches = new Set<AbortController>();
  /** Per node: until when it is skipped after its connection failed (0: it is up). */
  private readonly downUntil: number[];
  private readonly timeoutMs: number;
  private readonly attempts: number;
  /** Sent with every request: the token, when there is one. */
  private readonly authorization: Record<string, string>;

  constructor(options: ClientOptions) {
    if (options.nodes.length === 0) throw new Error('at least one node URL is needed');
    const tls = {
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
    };
    this.pools = options.nodes.map(
      (url) =>
        new Pool(url, {
          connections: options.connections ?? 8,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          connect: tls,
        }),
    );
    this.downUntil = this.pools.map(() => 0);
    this.authorization =
      options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // 50, 100, 200, 400, 800 ms, then Retry-After (1 s): about 3.5 s of an election or restart.
    this.attempts = options.attempts ?? 8;
  }

  async get(
    key: string,
    consistency: 'linearizable' | 'stale' = 'linearizable',
  ): Promise<Versioned> {
    const query = consistency === 'stale' ? '?consistency=stale' : '';
    return this.run('GET', key, query, {}, undefined, async (response) => ({
      value: Buffer.from(await response.body.arrayBuffer()),
      version: unquote(response.headers['etag']),
    }));
  }

  async put(key: string, value: Buffer | string, options: WriteOptions = {}): Promise<string> {
    return this.run('PUT', key, '', conditionHeaders(options), value, async (response) =>
      String(((await response.body.json()) as { version: string }).version),
    );
  }

  async del(key: string, options: WriteOptions = {}): Promise<void> {
    await this.run('DELETE', key, '', conditionHeaders(options), undefined, (response) =>
      response.body.dump(),
    );
  }

  /**
   * A transaction in one group (README, "Transactions in one group"): `POST /txn` with `request`
   * as its JSON body. Retried only when it provably did not happen (503), as a put is.
   */
  async txn(request: TxnRequest): Promise<TxnAnswer> {
    const body = JSON.stringify(request);
    const headers = { 'content-type': 'application/json' };
    return this.retried(
      () => this.once(this.pickNode(), 'POST', '/txn', 'txn', headers, body),
      async (response) => (await response.body.json()) as TxnAnswer,
    );
  }

  /**
   * The keys that start with `prefix`, in UTF-8 key order, page by page (README, "Listing"):
   * each page is one `GET /kv?prefix=`, asked only when the one before was taken, following
   * `next` to the end. A page is retried (503) like a get; a failure mid-way throws, and the
   * last `next` seen lets a caller resume with `after`.
   */
  async *listPages(prefix: string, options: ListOptions = {}): AsyncGenerator<ListPage> {
    let after = options.after ?? null;
    for (;;) {
      const query = new URLSearchParams({ prefix });
      if (options.limit !== undefined) query.set('limit', String(options.limit));
      if (options.keysOnly === true) query.set('keysOnly', '1');
      if (options.consistency === 'stale') query.set('consistency', 'stale');
      if (after !== null) query.set('after', after);
      const path = `/kv?${query.toString()}`;
      const page = await this.retried(
        () => this.once(this.pickNode(), 'GET', path, `list ${prefix}`, {}, undefined),
        async (response) => (await response.body.json()) as ListPage,
      );
      yield page;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /** Every key that starts with `prefix`, one at a time (`listPages` flattened). */
  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ListItem> {
    for await (const page of this.listPages(prefix, options)) yield* page.items;
  }

  /**
   * Deletes every key that starts with `prefix` (`DELETE /kv?prefix=`): atomic per batch per
   * group, not as a whole. Resolves with how many keys were deleted. Not retried: a lost answer
   * is Indeterminate (sending it again is harmless: it deletes what is left).
   */
  async deletePrefix(prefix: string): Promise<number> {
    const path = `/kv?${new URLSearchParams({ prefix }).toString()}`;
    return this.retried(
      () => this.once(this.pickNode(), 'DELETE', path, `delete prefix ${prefix}`, {}, undefined),
      async (response) => ((await response.body.json()) as { deleted: number }).deleted,
    );
  }

  /**
   * The changes to keys and prefixes, as they are applied, for as long as the caller iterates
   * (README, "Watching keys"): `for await (const m of client.watch({ prefix: 'app/' }))`. It
   * moves to the next node with its cursor when a node fails, so nothing is missed or repeated;
   * it throws CursorGone when its cursor is past the history the cluster keeps.
   */
  watch(options: WatchOptions): AsyncGenerator<WatchMessage> {
    // Without `list`, only WatchMessages come.
    return this.watchAny(options) as AsyncGenerator<WatchMessage>;
  }

  /**
   * `watch()` that first sends every matching key (`item` messages), then `synced` with the
   * cursor they were read at, then the changes after it (`GET /watch?list=1`): a cache filled
   * and kept up to date with no race. Should the stream break before `synced`, the listing
   * starts over, announced by a `reset` message (drop the items taken so far).
   */
  listAndWatch(options: Omit<WatchOptions, 'from'>): AsyncGenerator<WatchMessage | ListedMessage> {
    return this.watchAny({ ...options, list: true });
  }

  private async *watchAny(
    options: WatchOptions & { readonly list?: boolean },
  ): AsyncGenerator<WatchMessage | ListedMessage> {
    // close() ends open watches: a pool closes only once its requests have ended.
    const stop = new AbortController();
    const abort = () => stop.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    if (options.signal?.aborted === true) stop.abort();
    this.watches.add(stop);
    try {
      yield* this.watchThrough({ ...options, signal: stop.signal });
    } finally {
      this.watches.delete(stop);
      options.signal?.removeEventListener('abort', abort);
    }
  }

  private watchThrough(
    options: WatchOptions & { readonly list?: boolean },
  ): AsyncGenerator<WatchMessage | ListedMessage> {
    return watchMessages(
      {
        closed: () => this.closed,
        pick: () => this.pickNode(),
        failed: (node) => (this.downUntil[node] = Date.now() + SKIP_DOWN_MS),
        open: (node, path, headers, { bodyTimeout, signal }) =>
          this.pools[node]!.request({
            method: 'GET',
            path,
            headers: { ...headers, ...this.authorization },
            headersTimeout: this.timeoutMs,
            bodyTimeout,
            ...(signal === undefined ? {} : { signal }),
          }),
      },
      options,
    );
  }

  /** GET /cluster from the first node that answers. */
  async cluster(): Promise<unknown> {
    let last: unknown;
    for (const pool of this.pools) {
      try {
        const response = await pool.request({
          method: 'GET',
          path: '/cluster',
          headers: this.authorization,
          headersTimeout: this.timeoutMs,
        });
        if (response.statusCode >= 300) await failure(response);
        return await response.body.json();
      } catch (error) {
        // A node that answered with an error (a 401, say) would answer so everywhere.
        if (error instanceof KvError && !(error instanceof Unavailable)) throw error;
        last = error;
      }
    }
    throw new Unavailable(`no node answered: ${(last as Error).message}`, 'ConnectionFailed', 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches) watch.abort();
    await Promise.all(this.pools.map((pool) => pool.close()));
  }

  private async run<T>(
    method: Method,
    key: string,
    query: string,
    headers: Record<string, string>,
    body: Buffer | string | undefined,
    read: (response: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    const path = `/kv/${encodeURIComponent(key)}${query}`;
    return this.retried(() => this.once(this.pickNode(), method, path, key, headers, body), read);
  }

  /** Runs `send` until it is answered, again (with a back-off) only while it is Unavailable. */
  private async retried<T>(
    send: () => Promise<Dispatcher.ResponseData>,
    read: (response: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read(await send());
      } catch (error) {
        if (!(error instanceof Unavailable) || attempt >= this.attempts) throw error;
        await sleep(retryDelayMs(error, attempt, 0.5 + Math.random() / 2));
      }
    }
  }

  /**
   * The next node round-robin, skipping nodes whose connection failed lately: a node that
   * stopped answering is tried again after SKIP_DOWN_MS, not on every request meanwhile. When
   * every node is skipped, the one tried longest ago.
   */
  private pickNode(): number {
    const now = Date.now();
    for (let tried = 0; tried < this.pools.length; tried++) {
      const node = this.next++ % this.pools.length;
      if (this.downUntil[node]! <= now) return node;
    }
    return this.downUntil.indexOf(Math.min(...this.downUntil));
  }

  private async once(
    node: number,
    method: Method,
    path: string,
    /** What the request is about, for error messages: its key, or the endpoint. */
    what: string,
    headers: Record<string, string>,
    body: Buffer | string | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const pool = this.pools[node]!;
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({
        method,
        path,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }),
          ...headers,
          ...this.authorization,
        },
        ...(body === undefined ? {} : { body }),
        idempotent: method === 'GET',
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (error) {
      this.downUntil[node] = Date.now() + SKIP_DOWN_MS;
      const message = `${method} ${what}: ${(error as Error).message}`;
      // Refused: the request never left; a read has no effect either way.
      if (method === 'GET' || isRefused(error))
        throw new Unavailable(message, 'ConnectionFailed', 0);
      throw new Indeterminate(
        message,
        0,
        error instanceof errors.HeadersTimeoutError ? 'Timeout' : 'ConnectionLost',
      );
    }
    if (response.statusCode < 300) return response;
    return failure(response);
  }
}

/** The error an answer of 300 or above stands for, from its JSON body (frontend/http-errors.ts). */
async function failure(response: Dispatcher.ResponseData): Promise<never> {
  throw errorOfAnswer(response.statusCode, response.headers, await response.body.text());
}

function isRefused(error: unknown): boolean {
  const code =
    (error as { code?: string; cause?: { code?: string } }).code ??
    (error as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED';
}

function conditionHeaders(options: WriteOptions): Record<string, string> {
  return {
    ...(options.ifMatch === undefined
      ? {}
      : { 'if-match': options.ifMatch === '*' ? '*' : `"${unquote(options.ifMatch)}"` }),
    ...(options.ifNoneMatch === undefined ? {} : { 'if-none-match': '*' }),
  };
}
