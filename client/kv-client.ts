import { Agent, request, type Dispatcher } from 'undici';

export class KvError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}
/** The key has no value (404). */
export class NotFound extends KvError {}
/** If-Match / If-None-Match did not hold (412). */
export class PreconditionFailed extends KvError {}
/** The operation did not happen (503); retry after `retryAfterSeconds`. */
export class Unavailable extends KvError {
  constructor(
    message: string,
    code: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, 503, code);
  }
}
/** The outcome is unknown (504, or the connection failed after the request was sent). */
export class Indeterminate extends KvError {}

export interface Versioned {
  readonly value: Buffer;
  readonly version: string;
}

export interface WriteOptions {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: '*';
}

/**
 * A small client of one zabkv node's HTTP API. Writes are never retried by it, nor by undici
 * (PUT and DELETE are sent as non-idempotent): a write whose answer is lost is Indeterminate.
 */
export class KvClient {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.dispatcher = new Agent({ keepAliveTimeout: 10_000, pipelining: 1 });
  }

  async get(
    key: string,
    consistency: 'linearizable' | 'stale' = 'linearizable',
  ): Promise<Versioned> {
    const query = consistency === 'stale' ? '?consistency=stale' : '';
    const response = await this.send('GET', key, query, {});
    return {
      value: Buffer.from(await response.body.arrayBuffer()),
      version: unquote(response.headers['etag']),
    };
  }

  async put(key: string, value: Buffer | string, options: WriteOptions = {}): Promise<string> {
    const response = await this.send('PUT', key, '', conditionHeaders(options), value);
    return ((await response.body.json()) as { version: string }).version;
  }

  async del(key: string, options: WriteOptions = {}): Promise<void> {
    const response = await this.send('DELETE', key, '', conditionHeaders(options));
    await response.body.dump();
  }

  async cluster(): Promise<unknown> {
    const response = await request(`${this.url}/cluster`, { dispatcher: this.dispatcher });
    return response.body.json();
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async send(
    method: 'GET' | 'PUT' | 'DELETE',
    key: string,
    query: string,
    headers: Record<string, string>,
    body?: Buffer | string,
  ): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.url}/kv/${encodeURIComponent(key)}${query}`, {
        method,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }),
        },
        ...(body === undefined ? {} : { body }),
        idempotent: method === 'GET',
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (error) {
      // For a read nothing happened; for a write the request may have arrived.
      const message = `${method} ${key}: ${(error as Error).message}`;
      if (method === 'GET') throw new Unavailable(message, 'ConnectionFailed', 1);
      throw new Indeterminate(message, 0, 'ConnectionFailed');
    }
    if (response.statusCode < 300) return response;
    const text = await response.body.text();
    let code = 'Unknown';
    let message = text;
    try {
      ({ error: code, message } = JSON.parse(text) as { error: string; message: string });
    } catch {
      // not JSON: keep the text
    }
    switch (response.statusCode) {
      case 404:
        throw new NotFound(message, 404, code);
      case 412:
        throw new PreconditionFailed(message, 412, code);
      case 503:
        throw new Unavailable(message, code, Number(response.headers['retry-after'] ?? 1));
      case 504:
        throw new Indeterminate(message, 504, code);
      default:
        throw new KvError(message, response.statusCode, code);
    }
  }
}

function conditionHeaders(options: WriteOptions): Record<string, string> {
  return {
    ...(options.ifMatch === undefined
      ? {}
      : { 'if-match': options.ifMatch === '*' ? '*' : `"${unquote(options.ifMatch)}"` }),
    ...(options.ifNoneMatch === undefined ? {} : { 'if-none-match': '*' }),
  };
}

function unquote(tag: unknown): string {
  return typeof tag === 'string' ? tag.replace(/^"(.*)"$/, '$1') : '';
}
