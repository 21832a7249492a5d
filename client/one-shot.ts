import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Indeterminate, Unavailable, errorOfAnswer } from './kv-errors.js';

/**
 * One request at a time over node:http, for the CLI: a `zabkv get` makes one request and
 * exits, so it needs no connection pool, and node:http is already in Node's startup snapshot
 * where undici has to be loaded and compiled (about 60 ms here; see BENCHMARKS.md, CLI).
 */
export interface OneShotOptions {
  /** Base URLs (http:// or https://) tried in order: the next one when one cannot answer. */
  readonly endpoints: readonly string[];
  readonly token?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Per endpoint: the answer must arrive within this. */
  readonly timeoutMs?: number;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

/** Errors that mean the request never reached a server: safe to send elsewhere, even a write. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

class NotSent extends Error {}

/**
 * Sends the request to the first endpoint, and to the next one when it provably did not
 * happen there: the connection was refused (or the host not found), or the node answered 503.
 * A read also moves on when its connection fails later or times out. A write whose answer is
 * lost is never resent: it is Indeterminate. An answer of 300 or above is thrown as its
 * KvError (kv-errors.ts).
 */
export async function oneShot(
  options: OneShotOptions,
  method: Method,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Answer> {
  if (options.endpoints.length === 0) throw new Error('no endpoint to send to');
  let last = '';
  for (const endpoint of options.endpoints) {
    let answer: Answer;
    try {
      answer = await send(options, endpoint, method, path, headers, body);
    } catch (error) {
      last = `${endpoint}: ${(error as Error).message}`;
      if (error instanceof NotSent || method === 'GET') continue;
      throw new Indeterminate(`${method} ${path}: ${last}`, 0, 'ConnectionLost');
    }
    if (answer.status < 300) return answer;
    const failure = errorOfAnswer(answer.status, answer.headers, answer.body.toString());
    if (!(failure instanceof Unavailable)) throw failure;
    last = `${endpoint}: ${failure.message}`;
  }
  throw new Unavailable(`no endpoint could answer (last: ${last})`, 'ConnectionFailed', 1);
}

async function send(
  options: OneShotOptions,
  endpoint: string,
  method: Method,
  path: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<Answer> {
  const url = new URL(path, endpoint);
  const secure = url.protocol === 'https:';
  // node:https (and TLS with it) costs ~30 ms to load: only an https endpoint pays for it.
  const request = secure ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method,
        headers: {
          ...headers,
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/octet-stream', 'content-length': body.length }),
        },
        timeout: options.timeoutMs ?? 10_000,
        ...(secure
          ? {
              ...(options.ca === undefined ? {} : { ca: options.ca }),
              ...(options.cert === undefined ? {} : { cert: options.cert }),
              ...(options.key === undefined ? {} : { key: options.key }),
            }
          : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      reject(NOT_SENT.has(error.code ?? '') ? new NotSent(error.message) : error),
    );
    outgoing.end(body);
  });
}
