import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Indeterminate,
  NotFound,
  PreconditionFailed,
  Unavailable,
  ZabkvClient,
  retryDelayMs,
} from '../../client/zabkv-client.js';

type Script = (request: IncomingMessage, response: ServerResponse, n: number) => void;

const servers: Server[] = [];
const clients: ZabkvClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A fake node answering by script; counts the requests it received (with their bodies). */
async function fakeNode(script: Script) {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      seen.push(`${request.method} ${request.url} ${body}`);
      script(request, response, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function client(nodes: string[], attempts = 5) {
  const c = new ZabkvClient({ nodes, timeoutMs: 2_000, attempts });
  clients.push(c);
  return c;
}

describe('ZabkvClient', () => {
  it('txn() posts the JSON body to /txn, retries a 503, and returns the answer', async () => {
    const answer = {
      succeeded: true,
      version: '9',
      results: [{ put: { key: '{o}/a', version: '9' } }],
    };
    const a = await fakeNode((_q, r) =>
      json(r, 503, { error: 'Unavailable', message: 'no leader' }, { 'retry-after': '0' }),
    );
    const b = await fakeNode((request, r) =>
      request.headers['content-type'] === 'application/json'
        ? json(r, 200, answer)
        : json(r, 400, { error: 'BadTxn', message: 'not JSON' }),
    );
    const body = {
      compare: [{ key: '{o}/a', version: '0' }],
      success: [{ put: { key: '{o}/a', value: 'x' } }],
    };
    expect(await client([a.url, b.url]).txn(body)).toEqual(answer);
    expect(a.seen).toEqual([`POST /txn ${JSON.stringify(body)}`]);
    expect(b.seen).toEqual([`POST /txn ${JSON.stringify(body)}`]);
  });

  it('list() follows next page by page, asking for a page only when the last was taken', async () => {
    const pages = [
      { items: [{ key: 'p/a', version: '1', value: 'A' }], next: 'c1', revision: 't1;0=1,1=2' },
      { items: [{ key: 'p/b', version: '2' }], next: null, revision: 't1;0=3,1=4' },
    ];
    const node = await fakeNode((request, r) =>
      json(r, 200, request.url?.includes('after=c1') ? pages[1] : pages[0]),
    );
    const c = client([node.url]);
    const keys: string[] = [];
    for await (const item of c.list('p/', { limit: 1, keysOnly: true })) {
      keys.push(item.key);
      expect(node.seen).toHaveLength(keys.length);
    }
    expect(keys).toEqual(['p/a', 'p/b']);
    expect(node.seen).toEqual([
      'GET /kv?prefix=p%2F&limit=1&keysOnly=1 ',
      'GET /kv?prefix=p%2F&limit=1&keysOnly=1&after=c1 ',
    ]);
    const deleter = await fakeNode((_q, r) => json(r, 200, { deleted: 2 }));
    expect(await client([deleter.url]).deletePrefix('p/')).toBe(2);
    expect(deleter.seen).toEqual(['DELETE /kv?prefix=p%2F ']);
  });

  it('retries a 503 on the next node after Retry-After, and returns the version', async () => {
    const a = await fakeNode((_q, r) =>
      json(r, 503, { error: 'Unavailable', message: 'no leader' }, { 'retry-after': '0' }),
    );
    const b = await fakeNode((_q, r) => json(r, 200, { version: '42' }, { etag: '"42"' }));
    expect(await client([a.url, b.url]).put('k', 'v')).toBe('42');
    expect(a.seen).toEqual(['PUT /kv/k v']);
    expect(b.seen).toEqual(['PUT /kv/k v']);
  });

  it('never retries a write whose outcome is unknown: 504, or a connection lost after sending', async () => {
    const timeout = await fakeNode((_q, r) =>
      json(r, 504, { error: 'Indeterminate', message: 'x' }),
    );
    await expect(client([timeout.url]).put('k', 'v')).rejects.toBeInstanceOf(Indeterminate);
    expect(timeout.seen).toHaveLength(1);
    const cut = await fakeNode((request) => request.socket.destroy());
    await expect(client([cut.url]).put('k', 'v')).rejects.toBeInstanceOf(Indeterminate);
    await expect(client([cut.url]).del('k')).rejects.toBeInstanceOf(Indeterminate);
    expect(cut.seen).toHaveLength(2); // one PUT, one DELETE: undici did not resend either
  });

  it('retries reads on a lost connection and writes on a refused one (they never left)', async () => {
    const cut = await fakeNode((request, response, n) =>
      n === 1
        ? request.socket.destroy()
        : (response.setHeader('etag', '"7"'), response.end('value')),
    );
    const read = await client([cut.url]).get('k');
    expect(read).toEqual({ value: Buffer.from('value'), version: '7' });
    const refused = await fakeNode(() => {});
    const refusedUrl = refused.url;
    servers.pop()!.close();
    const good = await fakeNode((_q, r) => json(r, 200, { version: '9' }));
    expect(await client([refusedUrl, good.url]).put('k', 'v')).toBe('9');
  });

  it('gives typed errors and sends conditions as headers', async () => {
    let headers: IncomingMessage['headers'] = {};
    const node = await fakeNode((request, response, n) => {
      headers = request.headers;
      if (n === 1) json(response, 404, { error: 'NotFound', message: 'no value' });
      else json(response, 412, { error: 'PreconditionFailed', message: 'no' });
    });
    await expect(client([node.url]).get('k')).rejects.toBeInstanceOf(NotFound);
    await expect(client([node.url]).put('k', 'v', { ifMatch: '5' })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
    expect(headers['if-match']).toBe('"5"');
  });

  it('gives up after its attempts with Unavailable when nothing can serve', async () => {
    const down = await fakeNode((_q, r) =>
      json(r, 503, { error: 'Unavailable', message: 'x' }, { 'retry-after': '0' }),
    );
    await expect(client([down.url], 3).put('k', 'v')).rejects.toBeInstanceOf(Unavailable);
    expect(down.seen).toHaveLength(3);
  });
});

describe('retryDelayMs', () => {
  const noLeader = new Unavailable('no leader', 'Unavailable', 1);
  const overloaded = new Unavailable('too many requests', 'Overloaded', 1);
  const delays = (error: Unavailable) =>
    Array.from({ length: 7 }, (_, i) => retryDelayMs(error, i + 1, 1));

  it('retries an election soon, doubling from 50 ms up to Retry-After', () => {
    expect(delays(noLeader)).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
    expect(retryDelayMs(noLeader, 3, 0.5)).toBe(100);
    // A refused connection (Retry-After 0) goes to the next node at once, after 50 ms at most.
    expect(retryDelayMs(new Unavailable('refused', 'ConnectionFailed', 0), 4, 1)).toBe(50);
  });

  it('waits out load for Retry-After, whatever the jitter', () => {
    expect(delays(overloaded)).toEqual([100, 1_000, 1_000, 1_000, 1_600, 2_000, 2_000]);
    expect(retryDelayMs(overloaded, 2, 0.5)).toBe(1_000);
  });
});
