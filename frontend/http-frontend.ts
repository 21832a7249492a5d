import {
  STATUS_CODES,
  createServer as createHttpServer,
  maxHeaderSize,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import type { NodeId } from '../components/network/node-id.js';
import { Routing, type Routed } from '../overlay/routing-port.js';
import type { KvOperation } from '../kv/kv-operation.js';
import { isInsufficientStorage } from '../kv/outcome.js';
import {
  CLIENT_HEADERS_TIMEOUT_MS,
  CLIENT_REQUEST_TIMEOUT_MS,
  MAX_BODY_BYTES_IN_FLIGHT,
  MAX_CLIENT_CONNECTIONS_COUNT,
  MAX_PIPELINED_REQUESTS_COUNT,
  MAX_VALUE_BYTES,
} from '../components/limits.js';
import { allows, bearerToken, type AccessTokens, type Need } from './access-tokens.js';
import type { ClusterStatus } from './cluster-status.js';
import { HTTP_ERRORS, RETRY_AFTER_SECONDS, errorBody, type HttpErrorCode } from './http-errors.js';
import { KEY_ROUTE, conditionOf, etag, keyOfUrl, validKey } from './kv-request.js';
import { placementOf } from './key-placement.js';
import { TXN_ROUTE, txnAnswer, txnOfBody } from './txn-request.js';
import { LIST_ROUTE, registerListRoutes, type ListTable } from './list-routes.js';
import type { PeerFaults } from '../components/network/peer-faults.js';
import { registerFaultRoutes } from './fault-routes.js';
import { UiAggregator } from './ui-aggregator.js';
import { registerUiRoutes } from './ui-routes.js';
import type { UiSource } from './ui-state.js';
import { Watch } from '../watch/watch-port.js';
import { WatchPoller } from './watch-poller.js';
import { WATCH_ROUTE } from './watch-request.js';
import { WatchRoutes } from './watch-routes.js';
import { RouteMethods } from './route-methods.js';
import { WATCH_STALL_MS } from './watch-stream.js';

/** What the frontend shows besides keys: health and the cluster's shape. */
export interface NodeStatus {
  /** Every group has a known leader. */
  ready(): boolean;
  cluster(): ClusterStatus;
}

/** HTTPS on the client port (etcd's --cert-file, --key-file, --trusted-ca-file). */
export interface HttpTls {
  /** PEM: the node's certificate (chain) and private key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** PEM: the CA client certificates must be signed by (with `clientCertAuth`). */
  readonly ca?: Buffer;
  /** etcd's --client-cert-auth: a client without a certificate signed by `ca` fails the handshake. */
  readonly clientCertAuth: boolean;
}

/** The limits of the HTTP edge; each has its default in components/limits.ts. */
export interface HttpLimits {
  /** Open connections; one past it is closed at once (counted). */
  readonly maxConnections: number;
  /** Bytes of request bodies held at once (arriving or waiting for their answer) before 503. */
  readonly maxBodyBytesInFlight: number;
  /** Headers, then the whole request, must arrive within these; 408 after. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** How often Node checks those two timeouts. */
  readonly timeoutCheckMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /**
   * Key requests get 503 `Busy` + Retry-After while the event loop's mean delay over the last
   * sample is above this (@fastify/under-pressure); 0 turns it off.
   */
  readonly maxEventLoopDelayMs: number;
  /** Watch streams and long-polls open at once (`GET /watch`, `GET /kv/<key>?wait=`); 503 past it. */
  readonly maxWatchers: number;
  /** Bytes of values one watch stream holds at most: a batch per group, shared out. */
  readonly maxWatchBatchBytes: number;
  /** A watch stream whose reader takes nothing for this long is closed (WATCH_STALL_MS). */
  readonly watchStallMs: number;
}

/** How long a malformed request's 400 waits for the answers owed before it (onClientError). */
const ERROR_AFTER_ANSWERS_MS = 5_000;
/** How long a connection past the cap may take to send the request its 503 answers. */
const OVER_CAP_ANSWER_MS = 2_000;

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: MAX_CLIENT_CONNECTIONS_COUNT,
  maxBodyBytesInFlight: MAX_BODY_BYTES_IN_FLIGHT,
  headersTimeoutMs: CLIENT_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: CLIENT_REQUEST_TIMEOUT_MS,
  timeoutCheckMs: 1_000,
  // fastify's default: longer than the load balancers' and clients' usual idle timeouts.
  keepAliveTimeoutMs: 72_000,
  // Two seconds of mean delay, as long as a follower's silence timeout (syncLimit): a node that
  // merely runs at full speed never sees it, one stuck encoding a huge snapshot, swapping or
  // starved of CPU does. A shed request did not happen, so clients retry it (503).
  maxEventLoopDelayMs: 2_000,
  // Each open stream holds a connection; the connection cap is the same number.
  maxWatchers: 4096,
  maxWatchBatchBytes: 1024 * 1024,
  watchStallMs: WATCH_STALL_MS,
};

export interface HttpFrontendInit {
  readonly node: NodeId;
  readonly listen: { readonly host: string; readonly port: number };
  readonly status: NodeStatus;
  readonly registry: Registry;
  /** Requests in flight before new ones get 503 + Retry-After. */
  readonly maxInFlight: number;
  readonly limits?: Partial<HttpLimits>;
  /** HTTPS instead of HTTP. */
  readonly tls?: HttpTls;
  /** Bearer tokens: when given, every endpoint but /livez and /readyz needs one. */
  readonly tokens?: AccessTokens;
  /** The dashboard (`/ui`): this node's view, and a hook told of every answered request. */
  readonly ui?: UiSource & { served(group: number, status: number, ms: number): void };
  /** `--fault-injection`: `/admin/faults` edits these rules; absent: no such route. */
  readonly faults?: PeerFaults;
}

/** Methods that read: everything else on /kv/:key asks for write rights. */
const READ_METHODS = new Set(['GET', 'HEAD']);
/**
 * Paths anyone may ask, token or not: health checks, and the dashboard's page and assets (the
 * same files for everyone, holding no data; its data, `/ui/state` and `/ui/node`, needs one).
 */
const OPEN_ROUTES = new Set(['/livez', '/readyz', '/ui', '/ui/assets/:name']);
const REALM = 'Bearer realm="zabkv"';

interface InFlight {
  readonly reply: FastifyReply;
  readonly operation: KvOperation;
  readonly started: number;
}

/**
 * The HTTP API of DESIGN §7 on fastify: turns each request into a Route event, and each
 * Routed answer into the HTTP response, with the X-Kv-* headers. Values are raw bytes of any
 * content type. No per-request logging; every error goes through the catalogue.
 */
export class HttpFrontend extends ComponentDefinition {
  private readonly routing = this.requires(Routing);
  private readonly watch = this.requires(Watch);
  private readonly poller = new WatchPoller((event) => this.trigger(event, this.watch));
  private watches: WatchRoutes | null = null;
  private readonly app: FastifyInstance;
  private readonly inFlight = new Map<number, InFlight>();
  /** Operations the listing routes wait for (list-routes.ts), by Route id. */
  private readonly asked = new Map<number, (routed: Routed) => void>();
  private readonly latency: Histogram<'op' | 'status'>;
  private readonly limits: HttpLimits;
  private readonly refused: Counter<'reason'>;
  private readonly bodyBytesGauge: Gauge;
  /** Bytes of request bodies reserved by requests not yet answered (see `reserveBody`). */
  private bodyBytes = 0;
  /** Requests each connection has unanswered (limitPipelining). */
  private readonly unanswered = new WeakMap<Socket, number>();
  /** Connections that answered every request they sent, oldest idle first (createServer). */
  private readonly idle = new Set<Socket>();
  /** Connections past the cap: their first request is answered 503, then they close. */
  private readonly overCap = new WeakSet<Socket>();
  /** A connection's error answer, waiting for the answers it owes before it (onClientError). */
  private readonly afterAnswers = new WeakMap<Socket, () => void>();
  private nextId = 1;
  private draining = false;
  private drained: (() => void) | null = null;
  private readonly listening: Promise<number>;
  private aggregator: UiAggregator | null = null;
  private resolveListening: (port: number) => void = () => {};
  private rejectListening: (error: Error) => void = () => {};

  constructor(
    context: ComponentContext,
    private readonly init: HttpFrontendInit,
  ) {
    super(context);
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...init.limits };
    this.refused = new Counter({
      name: 'zabkv_http_refused_total',
      help: 'Client requests and connections refused at the HTTP edge, by reason',
      labelNames: ['reason'],
      registers: [init.registry],
    });
    this.bodyBytesGauge = new Gauge({
      name: 'zabkv_http_body_bytes_in_flight',
      help: 'Bytes of request bodies held: arriving, or waiting for their answer',
      registers: [init.registry],
    });
    this.latency = new Histogram({
      name: 'zabkv_request_duration_seconds',
      help: 'Client request latency at this node, by operation and status',
      labelNames: ['op', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [init.registry],
    });
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    this.listening.catch(() => {});
    this.app = this.buildApp();
    this.subscribe(this.routing, 'Routed', (routed) => this.onRouted(routed));
    this.subscribe(this.watch, 'WatchBatch', (batch) => this.poller.answered(batch));
    this.subscribe(this.watch, 'WatchEnded', (ended) => this.poller.answered(ended));
  }

  /** The bound port once listening (port 0 picks a free one). */
  whenListening(): Promise<number> {
    return this.listening;
  }

  /** For tests: fastify's in-process request injection. */
  get server(): FastifyInstance {
    return this.app;
  }

  /** New requests get 503 from now on; resolves when those in flight are answered. */
  drain(): Promise<void> {
    this.draining = true;
    // Watchers move to another node with their cursor; long-polls answer now.
    this.watches?.closeAll();
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  protected override onStart(): void {
    // The dashboard's timeline is kept from the start, not only while a page polls.
    this.aggregator?.start();
    this.app.listen({ host: this.init.listen.host, port: this.init.listen.port }).then(
      () => {
        const address = this.app.server.address();
        this.resolveListening(typeof address === 'object' && address !== null ? address.port : 0);
      },
      (error: Error) => {
        this.log.error({ err: error.message }, 'HTTP listen failed');
        this.rejectListening(error);
      },
    );
  }

  protected override onKill(): void {
    this.watches?.closeAll();
    this.poller.cancelAll();
    void this.app.close();
    void this.aggregator?.close();
  }

  private buildApp(): FastifyInstance {
    const app = Fastify({
      // No fastify logger at all: never a log line per request (nor a token in one).
      logger: false,
      bodyLimit: MAX_VALUE_BYTES,
      serverFactory: (handler) => this.createServer(handler),
      // The router refuses a path it cannot percent-decode before any handler runs; on /kv/
      // that is a key that is not UTF-8.
      frameworkErrors: (error, request, reply) =>
        this.answerError(
          reply,
          error.code === 'FST_ERR_BAD_URL' && request.url.startsWith('/kv/')
            ? 'BadKey'
            : 'BadRequest',
        ),
      clientErrorHandler: (error: Error & { code?: string }, socket: Socket) =>
        this.onClientError(error, socket),
    });
    if (this.init.tokens !== undefined) {
      const tokens = this.init.tokens;
      app.addHook('onRequest', async (request, reply) => this.authorize(tokens, request, reply));
    }
    app.addHook('onRequest', async (request, reply) => this.limitPipelining(request, reply));
    app.addHook('onRequest', async (request, reply) => this.reserveBody(request, reply));
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    app.setErrorHandler((error: { code?: string; statusCode?: number }, _request, reply) => {
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return this.answerError(reply, 'ValueTooLarge');
      if (error.statusCode !== undefined && error.statusCode < 500)
        return this.answerError(reply, 'BadRequest');
      this.log.error({ err: error }, 'HTTP handler failed');
      return this.answerError(reply, 'Internal');
    });
    const routes = new RouteMethods();
    routes.watch(app);
    app.setNotFoundHandler((request, reply) => {
      const allow = routes.allowed(request.url.split('?', 1)[0]!);
      // Taken with this method, yet unrouted (a segment the router reads otherwise): not there.
      if (allow.length === 0 || allow.includes(request.method)) {
        return this.answerError(reply, 'NoSuchRoute');
      }
      return this.answerError(reply.header('allow', allow.join(', ')), 'MethodNotAllowed');
    });
    app.get('/livez', (_request, reply) => reply.send({ status: 'ok' }));
    app.get('/readyz', (_request, reply) =>
      this.init.status.ready()
        ? reply.send({ status: 'ready' })
        : this.answerError(reply, 'Unavailable', 'not every group has a known leader'),
    );
    type ClusterRequest = FastifyRequest<{ Querystring: { key?: string | string[] } }>;
    app.get('/cluster', (request: ClusterRequest, reply) => {
      const { key } = request.query;
      if (key === undefined) return reply.send(this.init.status.cluster());
      // `?key=` asks where one key lives (`zabkv where`): its group, hash and hash tag.
      if (typeof key !== 'string' || !validKey(key)) return this.answerError(reply, 'BadKey');
      const placement = placementOf(this.init.status.cluster(), key);
      if (placement === null) {
        return this.answerError(reply, 'Unavailable', 'the cluster is not formed yet');
      }
      return reply.send(placement);
    });
    app.get('/metrics', async (_request, reply) =>
      reply.type(this.init.registry.contentType).send(await this.init.registry.metrics()),
    );
    if (this.init.ui !== undefined) {
      this.aggregator = new UiAggregator({
        self: this.init.node,
        source: this.init.ui,
        scheme: this.init.tls === undefined ? 'http' : 'https',
        ...(this.init.tls?.ca === undefined ? {} : { ca: this.init.tls.ca }),
      });
      registerUiRoutes(app, { source: this.init.ui, aggregator: this.aggregator });
    }
    if (this.init.faults !== undefined) {
      registerFaultRoutes(app, this.init.faults, (reply, detail) =>
        this.answerError(reply, 'BadRequest', detail),
      );
    }
    app.register(async (kv) => this.keyRoutes(kv));
    return app;
  }

  /**
   * /kv/:key, in its own fastify context so that only key requests are shed under pressure:
   * health checks, /cluster and /metrics still answer while the event loop is saturated.
   */
  private async keyRoutes(app: FastifyInstance): Promise<void> {
    const maxDelay = this.limits.maxEventLoopDelayMs;
    if (maxDelay > 0) {
      await app.register(underPressure, {
        maxEventLoopDelay: maxDelay,
        sampleInterval: Math.min(1_000, Math.max(10, maxDelay)),
        retryAfter: RETRY_AFTER_SECONDS,
        pressureHandler: (_request, reply) => {
          this.refused.inc({ reason: 'busy' });
          this.answerError(reply, 'Busy');
        },
      });
    }
    const watches = new WatchRoutes({
      registry: this.init.registry,
      status: () => this.init.status.cluster(),
      polls: this.poller,
      maxWatchers: this.limits.maxWatchers,
      maxBatchBytes: this.limits.maxWatchBatchBytes,
      stallMs: this.limits.watchStallMs,
      read: (key) => this.ask({ op: 'get', key, consistency: 'linearizable' }),
      range: async (range) => {
        const { outcome, served } = await this.ask(range);
        return { outcome, zxid: served.zxid };
      },
      answerError: (reply, code, detail) => this.answerError(reply, code, detail),
      answerRead: (reply, routed, notModified) =>
        this.answerRouted(reply, { op: 'get', key: '', consistency: 'linearizable' }, routed, {
          notModified,
        }),
      draining: () => this.draining,
      failed: (error) => this.log.error({ err: error }, 'watch handler failed'),
    });
    this.watches = watches;
    watches.register(app);
    type KeyRequest = FastifyRequest<{ Querystring: { consistency?: string } }>;
    app.get(KEY_ROUTE, (request: KeyRequest, reply) => {
      const key = keyOfUrl(request.url);
      if (key !== null && watches.keyGet(request, reply, key)) return reply;
      const consistency = request.query.consistency ?? 'linearizable';
      if (consistency !== 'linearizable' && consistency !== 'stale') {
        return this.answerError(reply, 'BadConsistency');
      }
      return this.route(reply, keyOfUrl(request.url), (key) => ({ op: 'get', key, consistency }));
    });
    app.put(KEY_ROUTE, (request: KeyRequest, reply) => {
      const condition = this.conditionOrFail(request, reply);
      if (condition === null) return reply;
      const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      return this.route(reply, keyOfUrl(request.url), (key) => ({
        op: 'put',
        key,
        value,
        ...(condition === undefined ? {} : { condition }),
      }));
    });
    app.delete(KEY_ROUTE, (request: KeyRequest, reply) => {
      const condition = this.conditionOrFail(request, reply);
      if (condition === null) return reply;
      return this.route(reply, keyOfUrl(request.url), (key) => ({
        op: 'delete',
        key,
        ...(condition === undefined ? {} : { condition }),
      }));
    });
    registerListRoutes(app, {
      table: () => this.listTable(),
      ask: (operation) => this.ask(operation),
      answerError: (reply, code, detail) => this.answerError(reply, code, detail),
    });
    app.post(TXN_ROUTE, (request, reply) => {
      const txn = txnOfBody(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
      if (typeof txn === 'string') return this.answerError(reply, 'BadTxn', txn);
      return this.routeOperation(reply, txn);
    });
  }

  /** The Node server under fastify: HTTP or HTTPS, with the edge's timeouts and caps. */
  private createServer(handler: Parameters<typeof createHttpServer>[1]): Server {
    const limits = this.limits;
    const options = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    };
    const tls = this.init.tls;
    const server =
      tls === undefined
        ? createHttpServer(options, handler)
        : createHttpsServer(
            {
              ...options,
              cert: tls.cert,
              key: tls.key,
              minVersion: 'TLSv1.2',
              ...(tls.clientCertAuth
                ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true }
                : {}),
            },
            handler,
          );
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    // Past the cap a connection is answered 503 (a client sees why, not a reset), and past
    // twice it closed at once: memory stays bounded either way.
    server.maxConnections = 2 * limits.maxConnections;
    server.on('drop', () => this.refused.inc({ reason: 'connections' }));
    // Near the cap, idle keep-alive connections make room: held open (each kept alive by a
    // request a minute), they filled the cap and every new client was dropped, the node up
    // but unreachable. A client whose idle connection closes just dials again.
    // (Node's closeIdleConnections would close the newcomer too, which has sent nothing yet.)
    const roomAt = limits.maxConnections - Math.max(1, Math.floor(limits.maxConnections / 16));
    let open = 0;
    server.on('connection', (socket: Socket) => {
      open++;
      socket.once('close', () => {
        open--;
        this.idle.delete(socket);
      });
      let staying = open; // the closes below are counted when their close events come
      for (const idle of this.idle) {
        if (staying < roomAt) break;
        this.refused.inc({ reason: 'idle_closed' });
        this.idle.delete(idle);
        idle.destroy();
        staying--;
      }
      if (tls === undefined && staying > limits.maxConnections) this.refuseConnection(socket);
    });
    // Over TLS a request comes on the TLS socket, not the TCP one 'connection' saw.
    server.on('secureConnection', (socket: Socket) => {
      if (open > limits.maxConnections) this.refuseConnection(socket);
    });
    server.on('tlsClientError', () => this.refused.inc({ reason: 'tls' }));
    return server;
  }

  /** A connection past the cap: its first request is answered 503 (limitPipelining). */
  private refuseConnection(socket: Socket): void {
    this.refused.inc({ reason: 'connections' });
    this.overCap.add(socket);
    // One that sends nothing gives its socket back soon.
    socket.setTimeout(OVER_CAP_ANSWER_MS, () => socket.destroy());
  }

  /**
   * Errors Node meets before a request reaches fastify: a request or its headers too slow
   * (408), headers too large (431), anything malformed (400). Answered from the catalogue, then
   * the connection is closed.
   */
  private onClientError(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code: HttpErrorCode =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'RequestTimeout'
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? overflowCode(error)
          : 'BadRequest';
    this.refused.inc({ reason: code === 'RequestTimeout' ? 'timeout' : 'malformed' });
    const { status } = HTTP_ERRORS[code];
    const body = JSON.stringify(errorBody(code));
    const answer = (): void => {
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      // A client that never closes its side is cut off shortly after the answer.
      socket.setTimeout(1_000, () => socket.destroy());
    };
    // The answers this connection still owes go first: a pipelined PUT, then a malformed
    // request, had the connection closed on a write that happened, its 200 never sent. Not
    // for a timeout (the request that timed out is one of them, and never answered), and not
    // for longer than an answer takes (a request whose body the bad bytes cut short).
    if (code !== 'RequestTimeout' && (this.unanswered.get(socket) ?? 0) > 0) {
      const fallback = setTimeout(answer, ERROR_AFTER_ANSWERS_MS);
      this.afterAnswers.set(socket, () => {
        clearTimeout(fallback);
        answer();
      });
    } else answer();
  }

  /**
   * With tokens on: 401 without a valid token, 403 when its grant does not cover the request
   * (access-tokens.ts). Runs before the body is read, so a refused upload costs nothing.
   */
  private authorize(
    tokens: AccessTokens,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply | undefined {
    const route = request.routeOptions.url;
    if (route !== undefined && OPEN_ROUTES.has(route)) return undefined;
    const header = request.headers.authorization;
    const token = bearerToken(header);
    const grant = token === null ? null : tokens.grantOf(token);
    if (grant === null) {
      this.refused.inc({ reason: 'unauthorized' });
      reply.header(
        'www-authenticate',
        header === undefined ? REALM : `${REALM}, error="invalid_token"`,
      );
      return this.answerError(reply, 'Unauthorized');
    }
    const need: Need =
      route === LIST_ROUTE
        ? // A listing or prefix delete stays inside the token's prefix if its prefix does.
          { kind: READ_METHODS.has(request.method) ? 'read' : 'write', key: listPrefix(request) }
        : route === TXN_ROUTE
          ? // Its keys are in the body, not read yet: only a token for every key may run one.
            { kind: 'write', key: '' }
          : route === KEY_ROUTE
            ? {
                kind: READ_METHODS.has(request.method) ? 'read' : 'write',
                key: keyOfUrl(request.url) ?? '',
              }
            : route?.startsWith('/admin/') === true
              ? { kind: 'admin' }
              : { kind: 'status' };
    // A watch reads every key and prefix it names: a token must cover each of them.
    const needs =
      route === WATCH_ROUTE && this.watches !== null ? this.watches.needsOf(request.query) : [need];
    if (needs.some((n) => !allows(grant, n))) {
      this.refused.inc({ reason: 'forbidden' });
      reply.header('www-authenticate', `${REALM}, error="insufficient_scope"`);
      return this.answerError(reply, 'Forbidden');
    }
    return undefined;
  }

  /**
   * Counts the requests each connection has unanswered; past MAX_PIPELINED_REQUESTS_COUNT the
   * connection is closed (limits.ts says why), and those requests after it are never handled.
   */
  private limitPipelining(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const socket = request.raw.socket;
    if (this.overCap.has(socket)) {
      return this.answerError(reply.header('connection', 'close'), 'TooManyConnections');
    }
    const unanswered = (this.unanswered.get(socket) ?? 0) + 1;
    if (unanswered > MAX_PIPELINED_REQUESTS_COUNT) {
      if (!socket.destroyed) {
        this.refused.inc({ reason: 'pipelined' });
        this.log.debug({ remote: socket.remoteAddress }, 'too many pipelined requests: closing');
        socket.destroy();
      }
      return reply.hijack();
    }
    this.unanswered.set(socket, unanswered);
    this.idle.delete(socket);
    reply.raw.once('close', () => {
      const left = (this.unanswered.get(socket) ?? 1) - 1;
      if (left > 0) {
        this.unanswered.set(socket, left);
        return;
      }
      this.unanswered.delete(socket);
      if (!socket.destroyed) this.idle.add(socket);
      const after = this.afterAnswers.get(socket);
      this.afterAnswers.delete(socket);
      after?.();
    });
    return undefined;
  }

  /**
   * Reserves a request's body against the node's byte budget before it is read: its
   * Content-Length, or the body limit when it is sent in chunks. Past the budget: 503. The
   * reservation ends when the answer is sent or the connection closes.
   */
  private reserveBody(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const length = request.headers['content-length'];
    const chunked = request.headers['transfer-encoding'] !== undefined;
    if (length === undefined && !chunked) return undefined;
    const declared = length === undefined ? MAX_VALUE_BYTES : Number(length);
    const bytes = Number.isFinite(declared)
      ? Math.min(Math.max(declared, 0), MAX_VALUE_BYTES)
      : MAX_VALUE_BYTES;
    if (bytes === 0) return undefined;
    if (this.bodyBytes + bytes > this.limits.maxBodyBytesInFlight) {
      this.refused.inc({ reason: 'body_bytes' });
      return this.answerError(reply, 'Overloaded', 'request bodies in flight at their byte limit');
    }
    this.bodyBytes += bytes;
    this.bodyBytesGauge.set(this.bodyBytes);
    reply.raw.once('close', () => {
      this.bodyBytes -= bytes;
      this.bodyBytesGauge.set(this.bodyBytes);
    });
    return undefined;
  }

  private conditionOrFail(request: FastifyRequest, reply: FastifyReply) {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const condition = conditionOf(header('if-match'), header('if-none-match'));
    if (condition === null) this.answerError(reply, 'BadCondition');
    return condition;
  }

  private route(reply: FastifyReply, key: string | null, operation: (key: string) => KvOperation) {
    if (key === null) return this.answerError(reply, 'BadKey');
    return this.routeOperation(reply, operation(key));
  }

  private routeOperation(reply: FastifyReply, op: KvOperation) {
    if (this.draining) return this.answerError(reply, 'ShuttingDown');
    if (this.inFlight.size >= this.init.maxInFlight) return this.answerError(reply, 'Overloaded');
    const id = this.nextId++;
    this.inFlight.set(id, { reply, operation: op, started: performance.now() });
    this.trigger({ kind: 'Route', id, operation: op }, this.routing);
    return reply; // answered when Routed arrives
  }

  /** The table as the listing routes need it; null before the cluster is formed. */
  private listTable(): ListTable | null {
    const cluster = this.init.status.cluster();
    if (!cluster.formed) return null;
    return {
      version: cluster.version,
      groups: cluster.groups.map((g) => g.id),
      groupOfKey: (key) => placementOf(cluster, key)!.group,
    };
  }

  /**
   * Routes an operation for a handler that awaits its answer (a listing asks every group).
   * Counted against `maxInFlight`; refused (503) while draining or over it.
   */
  private ask(operation: KvOperation): Promise<Routed> {
    const refuse = (reason: string): Promise<Routed> =>
      Promise.resolve({
        kind: 'Routed',
        id: 0,
        outcome: { status: 503, reason },
        served: { epoch: 0, zxid: 0, stale: false, leader: null },
        group: -1,
        node: this.init.node,
      });
    if (this.draining) return refuse('this node is shutting down');
    if (this.inFlight.size + this.asked.size >= this.init.maxInFlight)
      return refuse('too many requests in flight');
    const id = this.nextId++;
    const answered = new Promise<Routed>((resolve) => this.asked.set(id, resolve));
    this.trigger({ kind: 'Route', id, operation }, this.routing);
    return answered;
  }

  private onRouted(routed: Routed): void {
    const asker = this.asked.get(routed.id);
    if (asker !== undefined) {
      this.asked.delete(routed.id);
      asker(routed);
      return;
    }
    const request = this.inFlight.get(routed.id);
    if (request === undefined) return;
    this.inFlight.delete(routed.id);
    const { reply, operation } = request;
    this.answerRouted(reply, operation, routed);
    const ms = performance.now() - request.started;
    this.latency.observe({ op: operation.op, status: String(routed.outcome.status) }, ms / 1000);
    this.init.ui?.served(routed.group, routed.outcome.status, ms);
    if (this.draining && this.inFlight.size === 0) this.drained?.();
  }

  /** The HTTP answer to `routed`; with `notModified`, 304 and its headers instead of the value. */
  private answerRouted(
    reply: FastifyReply,
    operation: KvOperation,
    routed: Routed,
    { notModified }: { notModified: boolean } = { notModified: false },
  ): void {
    const { outcome, served } = routed;
    reply.headers({
      'x-kv-group': String(routed.group),
      'x-kv-node': String(routed.node),
      'x-kv-epoch': String(served.epoch),
      'x-kv-zxid': String(served.zxid),
      ...(served.stale ? { 'x-kv-consistency': 'stale' } : {}),
    });
    if (notModified) {
      if (outcome.status === 200) reply.header('etag', etag(outcome.version));
      void reply.code(304).send();
      return;
    }
    switch (outcome.status) {
      case 200:
        reply.header('etag', etag(outcome.version));
        if (operation.op === 'txn' && outcome.txn !== undefined) {
          void reply.send(txnAnswer(outcome.txn, outcome.version));
        } else if (operation.op === 'get') {
          void reply
            .type('application/octet-stream')
            .send(Buffer.from(outcome.value ?? new Uint8Array()));
        } else {
          void reply.send({ version: String(outcome.version) });
        }
        break;
      case 204:
        void reply.code(204).send();
        break;
      case 404:
        this.answerError(reply, 'NotFound');
        break;
      case 412:
        // The current version, so that a compare-and-set loop needs no extra read.
        if (typeof outcome.current === 'number') reply.header('etag', etag(outcome.current));
        this.answerError(
          reply,
          'PreconditionFailed',
          outcome.current === undefined
            ? undefined
            : outcome.current === null
              ? 'the key is absent'
              : `the key has version ${outcome.current}`,
        );
        break;
      case 422:
        void reply
          .code(HTTP_ERRORS.CrossGroup.status)
          .send({ ...errorBody('CrossGroup', outcome.reason), groups: outcome.groups });
        break;
      case 503:
        this.answerError(reply, 'Unavailable', outcome.reason);
        break;
      case 504:
        this.answerError(reply, 'Indeterminate', outcome.reason);
        break;
      case 507: {
        const code = isInsufficientStorage(outcome) ? 'InsufficientStorage' : 'QuotaExceeded';
        this.answerError(reply, code, outcome.reason);
        break;
      }
    }
  }

  private answerError(reply: FastifyReply, code: HttpErrorCode, detail?: string): FastifyReply {
    const { status } = HTTP_ERRORS[code];
    if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.code(status).send(errorBody(code, detail));
  }
}

/**
 * A header overflow whose request line alone fills Node's header limit is a URL too long (414,
 * as nginx and etcd's gateway answer), not headers too large (431).
 */
function overflowCode(error: Error): HttpErrorCode {
  // What Node read last: the whole request when it came in one piece, as it does from clients
  // that write a request at once; a later piece of a long one is left 431.
  const raw = (error as { rawPacket?: unknown }).rawPacket;
  if (!Buffer.isBuffer(raw) || !/^[A-Z]+ \S/.test(raw.subarray(0, 16).toString('latin1'))) {
    return 'HeadersTooLarge';
  }
  const lineEnd = raw.indexOf('\r\n');
  return (lineEnd === -1 ? raw.length : lineEnd) >= maxHeaderSize
    ? 'UriTooLong'
    : 'HeadersTooLarge';
}

/** The `prefix` of a listing or prefix delete, for the token check ('' when absent or repeated). */
function listPrefix(request: FastifyRequest): string {
  const { prefix } = request.query as { prefix?: unknown };
  return typeof prefix === 'string' ? prefix : '';
}
