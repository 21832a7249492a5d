import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { ComponentDefinition, type ComponentContext } from '../components/kernel/index.js';
import type { NodeId } from '../components/network/node-id.js';
import { Routing, type Routed } from '../overlay/routing-port.js';
import type { KvOperation } from '../kv/kv-operation.js';
import { isInsufficientStorage } from '../kv/outcome.js';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../components/limits.js';
import type { ClusterStatus } from './cluster-status.js';
import { HTTP_ERRORS, RETRY_AFTER_SECONDS, errorBody, type HttpErrorCode } from './http-errors.js';
import { conditionOf, etag, validKey } from './kv-request.js';

/** What the frontend shows besides keys: health and the cluster's shape. */
export interface NodeStatus {
  /** Every group has a known leader. */
  ready(): boolean;
  cluster(): ClusterStatus;
}

export interface HttpFrontendInit {
  readonly node: NodeId;
  readonly listen: { readonly host: string; readonly port: number };
  readonly status: NodeStatus;
  readonly registry: Registry;
  /** Requests in flight before new ones get 503 + Retry-After. */
  readonly maxInFlight: number;
}

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
  private readonly app: FastifyInstance;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly latency: Histogram<'op' | 'status'>;
  private nextId = 1;
  private draining = false;
  private drained: (() => void) | null = null;
  private readonly listening: Promise<number>;
  private resolveListening: (port: number) => void = () => {};
  private rejectListening: (error: Error) => void = () => {};

  constructor(
    context: ComponentContext,
    private readonly init: HttpFrontendInit,
  ) {
    super(context);
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
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  protected override onStart(): void {
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
    void this.app.close();
  }

  private buildApp(): FastifyInstance {
    const app = Fastify({
      // No fastify logger at all: never a log line per request.
      logger: false,
      bodyLimit: MAX_VALUE_BYTES,
      // A 1 KiB key may be percent-encoded to three times its length.
      routerOptions: { maxParamLength: MAX_KEY_BYTES * 3 },
    });
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
    app.setNotFoundHandler((_request, reply) => this.answerError(reply, 'NoSuchRoute'));
    app.get('/livez', (_request, reply) => reply.send({ status: 'ok' }));
    app.get('/readyz', (_request, reply) =>
      this.init.status.ready()
        ? reply.send({ status: 'ready' })
        : this.answerError(reply, 'Unavailable', 'not every group has a known leader'),
    );
    app.get('/cluster', (_request, reply) => reply.send(this.init.status.cluster()));
    app.get('/metrics', async (_request, reply) =>
      reply.type(this.init.registry.contentType).send(await this.init.registry.metrics()),
    );
    type KeyRequest = FastifyRequest<{
      Params: { key: string };
      Querystring: { consistency?: string };
    }>;
    app.get('/kv/:key', (request: KeyRequest, reply) => {
      const consistency = request.query.consistency ?? 'linearizable';
      if (consistency !== 'linearizable' && consistency !== 'stale') {
        return this.answerError(reply, 'BadConsistency');
      }
      return this.route(reply, request.params.key, (key) => ({ op: 'get', key, consistency }));
    });
    app.put('/kv/:key', (request: KeyRequest, reply) => {
      const condition = this.conditionOrFail(request, reply);
      if (condition === null) return reply;
      const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      return this.route(reply, request.params.key, (key) => ({
        op: 'put',
        key,
        value,
        ...(condition === undefined ? {} : { condition }),
      }));
    });
    app.delete('/kv/:key', (request: KeyRequest, reply) => {
      const condition = this.conditionOrFail(request, reply);
      if (condition === null) return reply;
      return this.route(reply, request.params.key, (key) => ({
        op: 'delete',
        key,
        ...(condition === undefined ? {} : { condition }),
      }));
    });
    app.route({
      method: ['POST', 'PATCH', 'OPTIONS'],
      url: '/kv/:key',
      handler: (_request, reply) => this.answerError(reply, 'MethodNotAllowed'),
    });
    return app;
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

  private route(reply: FastifyReply, key: string, operation: (key: string) => KvOperation) {
    if (!validKey(key)) return this.answerError(reply, 'BadKey');
    if (this.draining) return this.answerError(reply, 'ShuttingDown');
    if (this.inFlight.size >= this.init.maxInFlight) return this.answerError(reply, 'Overloaded');
    const id = this.nextId++;
    const op = operation(key);
    this.inFlight.set(id, { reply, operation: op, started: performance.now() });
    this.trigger({ kind: 'Route', id, operation: op }, this.routing);
    return reply; // answered when Routed arrives
  }

  private onRouted(routed: Routed): void {
    const request = this.inFlight.get(routed.id);
    if (request === undefined) return;
    this.inFlight.delete(routed.id);
    const { reply, operation } = request;
    const { outcome, served } = routed;
    reply.headers({
      'x-kv-group': String(routed.group),
      'x-kv-node': String(routed.node),
      'x-kv-epoch': String(served.epoch),
      'x-kv-zxid': String(served.zxid),
      ...(served.stale ? { 'x-kv-consistency': 'stale' } : {}),
    });
    switch (outcome.status) {
      case 200:
        reply.header('etag', etag(outcome.version));
        if (operation.op === 'get') {
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
        this.answerError(reply, 'PreconditionFailed');
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
    this.latency.observe(
      { op: operation.op, status: String(outcome.status) },
      (performance.now() - request.started) / 1000,
    );
    if (this.draining && this.inFlight.size === 0) this.drained?.();
  }

  private answerError(reply: FastifyReply, code: HttpErrorCode, detail?: string): FastifyReply {
    const { status } = HTTP_ERRORS[code];
    if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.code(status).send(errorBody(code, detail));
  }
}
