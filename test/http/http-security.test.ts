import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../frontend/access-tokens.js';
import { MAX_PIPELINED_REQUESTS_COUNT } from '../../components/limits.js';
import { startFrontend, stopFrontends } from './frontend-fixture.js';
import { makeTestPki, type TestPki } from './test-pki.js';

afterEach(stopFrontends);

const READER = 'reader-token-0123456789';
const WRITER = 'writer-token-0123456789';
const TENANT = 'tenant-token-0123456789';
const ADMIN = 'admin-token-01234567890';
const tokens = AccessTokens.parse(
  [`${READER} read`, `${WRITER} write`, `${TENANT} write tenant/`, `${ADMIN} admin`].join('\n'),
);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Opens `count` connections that send nothing, once the server has taken them in. */
async function holdConnections(port: number, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket));
        }),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  return sockets;
}

describe('bearer tokens on the HTTP API', () => {
  it('answers 401 with WWW-Authenticate and a JSON body without a valid token, and routes nothing', async () => {
    const { app, host } = await startFrontend({ tokens });
    const cases: [InjectOptions, string][] = [
      [{ method: 'GET', url: '/kv/k' }, 'Bearer realm="zabkv"'],
      [{ method: 'PUT', url: '/kv/k', payload: 'v' }, 'Bearer realm="zabkv"'],
      [
        { method: 'PUT', url: '/kv/k', payload: 'v', headers: bearer('not-a-token-at-all') },
        'Bearer realm="zabkv", error="invalid_token"',
      ],
      [
        { method: 'GET', url: '/kv/k', headers: { authorization: `Basic ${READER}` } },
        'Bearer realm="zabkv", error="invalid_token"',
      ],
      // Refused before the body is read: 401, not 413.
      [{ method: 'PUT', url: '/kv/k', payload: Buffer.alloc(2 << 20) }, 'Bearer realm="zabkv"'],
      [{ method: 'GET', url: '/cluster' }, 'Bearer realm="zabkv"'],
      [{ method: 'GET', url: '/metrics' }, 'Bearer realm="zabkv"'],
      [{ method: 'GET', url: '/no-such-route' }, 'Bearer realm="zabkv"'],
    ];
    for (const [options, challenge] of cases) {
      const response = await app.inject(options);
      expect(response.statusCode, `${options.method} ${options.url}`).toBe(401);
      expect(response.headers['www-authenticate']).toBe(challenge);
      expect(response.json()).toMatchObject({ error: 'Unauthorized' });
      expect(response.body).not.toContain(READER);
    }
    expect(host.router.seen).toEqual([]);
  });

  it('answers 403 outside the token rights: a read token writing, a tenant outside its prefix', async () => {
    const { app, host } = await startFrontend({ tokens });
    const forbidden: InjectOptions[] = [
      { method: 'PUT', url: '/kv/k', payload: 'v', headers: bearer(READER) },
      { method: 'DELETE', url: '/kv/k', headers: bearer(READER) },
      { method: 'PUT', url: '/kv/other%2Fk', payload: 'v', headers: bearer(TENANT) },
      { method: 'GET', url: '/kv/other%2Fk', headers: bearer(TENANT) },
      { method: 'GET', url: '/cluster', headers: bearer(TENANT) },
      { method: 'GET', url: '/metrics', headers: bearer(TENANT) },
    ];
    for (const options of forbidden) {
      const response = await app.inject(options);
      expect(response.statusCode, `${options.method} ${options.url}`).toBe(403);
      expect(response.headers['www-authenticate']).toBe(
        'Bearer realm="zabkv", error="insufficient_scope"',
      );
      expect(response.json()).toMatchObject({ error: 'Forbidden' });
    }
    expect(host.router.seen).toEqual([]);
  });

  it('answers 200 within the token rights', async () => {
    const { app } = await startFrontend({ tokens });
    const ok = async (options: InjectOptions, status = 200) =>
      expect((await app.inject(options)).statusCode, `${options.method} ${options.url}`).toBe(
        status,
      );
    await ok({ method: 'PUT', url: '/kv/k', payload: 'v', headers: bearer(WRITER) });
    await ok({ method: 'GET', url: '/kv/k', headers: bearer(READER) });
    await ok({ method: 'PUT', url: '/kv/tenant%2Fk', payload: 'v', headers: bearer(TENANT) });
    await ok({ method: 'GET', url: '/kv/tenant%2Fk', headers: bearer(TENANT) });
    await ok({ method: 'DELETE', url: '/kv/tenant%2Fk', headers: bearer(TENANT) }, 204);
    await ok({ method: 'DELETE', url: '/kv/k', headers: bearer(ADMIN) }, 204);
    for (const token of [READER, WRITER, ADMIN]) {
      await ok({ method: 'GET', url: '/cluster', headers: bearer(token) });
      await ok({ method: 'GET', url: '/metrics', headers: bearer(token) });
    }
  });

  it('keeps /livez and /readyz open, and counts refusals in /metrics', async () => {
    const { app } = await startFrontend({ tokens, ready: false });
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await app.inject({ method: 'GET', url: '/kv/k' });
    await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v', headers: bearer(READER) });
    const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN) });
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="unauthorized"\} 1/);
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="forbidden"\} 1/);
  });

  it('asks for no token when none are configured', async () => {
    const { app } = await startFrontend();
    expect((await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/cluster' })).statusCode).toBe(200);
  });
});

describe('limits of the HTTP edge', () => {
  it('maps 507 to QuotaExceeded: did not happen, no Retry-After', async () => {
    const { app, host } = await startFrontend();
    host.router.forced = {
      status: 507,
      reason: '60 of 64 bytes held, this write adds 10',
      cause: 'quota',
    };
    const response = await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    expect(response.statusCode).toBe(507);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.json()).toEqual({
      error: 'QuotaExceeded',
      message: expect.stringContaining('60 of 64 bytes held') as unknown,
    });
  });

  it('answers 503 once request bodies in flight reach their byte budget, and frees it with the answers', async () => {
    const { app, host } = await startFrontend({ limits: { maxBodyBytesInFlight: 1_000 } });
    host.router.holding = true;
    const put = (key: string) =>
      app.inject({ method: 'PUT', url: `/kv/${key}`, payload: Buffer.alloc(600) });
    const first = put('a');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await put('b');
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json()).toMatchObject({ error: 'Overloaded' });
    host.router.release();
    expect((await first).statusCode).toBe(200);
    expect((await put('c')).statusCode).toBe(200);
  });

  /** Raw bytes to the frontend; resolves with everything it answered once it closes. */
  const raw = (port: number, bytes: string, holdMs = 10_000) =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
      setTimeout(() => socket.destroy(), holdMs);
    });
  const slow = { requestTimeoutMs: 300, headersTimeoutMs: 300, timeoutCheckMs: 50 };

  it('ends a body that trickles in too slowly with 408 from the catalogue, and a slow header too', async () => {
    const { port, host } = await startFrontend({ limits: slow });
    const body = await raw(
      port,
      'PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a few bytes',
    );
    expect(body).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
    expect(JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: 'RequestTimeout',
    });
    const headers = await raw(port, 'GET /kv/k HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(headers).toMatch(/^HTTP\/1.1 408 /);
    expect(host.router.seen).toEqual([]);
  });

  it('answers a URL longer than the header limit 414, and headers too large 431', async () => {
    // Both overflow Node's 16 KiB header limit; the URL's was answered 431 as well.
    const { port, host } = await startFrontend();
    const longUrl = await raw(port, `GET /kv/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(longUrl).toMatch(/^HTTP\/1.1 414 URI Too Long\r\n/);
    expect(longUrl).toContain('"error":"UriTooLong"');
    const bigHeader = await raw(
      port,
      `GET /kv/k HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    expect(bigHeader).toMatch(/^HTTP\/1.1 431 /);
    expect(bigHeader).toContain('"error":"HeadersTooLarge"');
    expect(host.router.seen).toEqual([]);
  });

  it('closes a connection that pipelines more requests than the cap, handling none past it', async () => {
    // A socket that never reads, sending a thousand GETs of a 1 MiB value in one write, had
    // every answer wait in memory: a gigabyte from 33 KB.
    const { port, app, host } = await startFrontend();
    const closed = await raw(port, 'GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200));
    const answered = closed.split('HTTP/1.1 ').length - 1;
    expect(answered).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS_COUNT);
    expect(host.router.seen.length).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS_COUNT);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="pipelined"\} 1/);
    // A client that pipelines within the cap gets every answer, in order.
    const answers = await new Promise<number>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(8)),
      );
      let text = '';
      const count = () => text.split('HTTP/1.1 404').length - 1;
      socket.on('data', (chunk) => {
        text += chunk.toString();
        if (count() === 8) socket.destroy();
      });
      socket.on('close', () => resolve(count()));
    });
    expect(answers).toBe(8);
  });

  it('answers a malformed request pipelined after writes only after their answers', async () => {
    // The 400 went out at once, closing the connection: both PUTs happened, their 200s lost.
    const { port, host } = await startFrontend();
    const put = (key: string) => `PUT /kv/${key} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1`;
    const answers = await raw(port, `${put('q1')}${put('q2')}GARBAGE\r\n\r\n`);
    const statuses = [...answers.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '200', '400']);
    expect(host.router.seen).toHaveLength(2);
  });

  it('closes idle keep-alive connections near the cap, so new clients are still served', async () => {
    // Kept alive by a request now and then, they filled the cap and every new client was
    // dropped: the node up but unreachable.
    const { port, app } = await startFrontend({ limits: { maxConnections: 4 } });
    const held: ReturnType<typeof connect>[] = [];
    const answered: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      answered.push(
        await new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1', () =>
            socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n'),
          );
          held.push(socket);
          socket.on('data', (chunk) => resolve(chunk.toString().startsWith('HTTP/1.1 200')));
          socket.on('error', () => resolve(false));
          socket.on('close', () => resolve(false));
        }),
      );
    }
    for (const socket of held) socket.destroy();
    expect(answered).toEqual(Array.from({ length: 8 }, () => true));
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="idle_closed"\} [1-9]/);
  });

  it('answers a connection past the cap 503 and closes it; past twice the cap, closes at once', async () => {
    // It was closed at once: a client saw a reset, never why.
    const { port, app } = await startFrontend({ limits: { maxConnections: 2 } });
    const open = await holdConnections(port, 2);
    const third = await raw(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', 5_000);
    expect(third).toMatch(/^HTTP\/1\.1 503 /);
    expect(third).toMatch(/connection: close/i);
    expect(third).toMatch(/retry-after: 1/i);
    expect(third).toContain('"error":"TooManyConnections"');
    // Two more held past the cap fill twice it: the next is closed unanswered.
    open.push(...(await holdConnections(port, 2)));
    expect(await raw(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', 5_000)).toBe('');
    for (const socket of open) socket.destroy();
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="connections"\} 4/);
  });

  it('sheds key requests with 503 Busy while the event loop is stalled, never /livez', async () => {
    const { app } = await startFrontend({ limits: { maxEventLoopDelayMs: 50 } });
    expect((await app.inject({ method: 'GET', url: '/kv/k' })).statusCode).toBe(404);
    const stallUntil = Date.now() + 1_000;
    while (Date.now() < stallUntil) {
      // a handler that blocks the event loop for a second
    }
    // The sample after the stall sees it: poll until a request is shed.
    const deadline = Date.now() + 2_000;
    let shed = await app.inject({ method: 'GET', url: '/kv/k' });
    while (shed.statusCode !== 503 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      shed = await app.inject({ method: 'GET', url: '/kv/k' });
    }
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.json()).toMatchObject({ error: 'Busy' });
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/zabkv_http_refused_total\{reason="busy"\} [1-9]/);
  });
});

describe('HTTPS on the client port', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki(mkdtempSync(join(tmpdir(), 'zabkv-http-tls-')));
  });
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));
  const pem = (path: string) => readFileSync(path);
  const tls = (clientCertAuth: boolean) => ({
    cert: pem(pki.serverCert),
    key: pem(pki.serverKey),
    clientCertAuth,
    ...(clientCertAuth ? { ca: pem(pki.ca) } : {}),
  });
  const get = async (url: string, connect: Record<string, Buffer> = {}) => {
    const dispatcher = new Agent({ connect });
    try {
      const response = await request(url, { dispatcher, headersTimeout: 5_000 });
      await response.body.dump();
      return response.statusCode;
    } finally {
      await dispatcher.close();
    }
  };

  it('serves HTTPS to a client that trusts the CA, and nothing to plain HTTP or a client that does not', async () => {
    const { port } = await startFrontend({ tls: tls(false) });
    expect(await get(`https://127.0.0.1:${port}/livez`, { ca: pem(pki.ca) })).toBe(200);
    await expect(get(`https://127.0.0.1:${port}/livez`)).rejects.toThrow(/certificate/);
    await expect(get(`https://127.0.0.1:${port}/livez`, { ca: pem(pki.otherCa) })).rejects.toThrow(
      /certificate/,
    );
    expect(await get(`http://127.0.0.1:${port}/livez`).catch(() => 'refused')).not.toBe(200);
  });

  it('answers a TLS connection past the cap 503 too', async () => {
    const { port } = await startFrontend({ tls: tls(false), limits: { maxConnections: 2 } });
    const held = await holdConnections(port, 2);
    expect(await get(`https://127.0.0.1:${port}/livez`, { ca: pem(pki.ca) })).toBe(503);
    for (const socket of held) socket.destroy();
  });

  it('with client-cert-auth, refuses a client without a certificate of the CA at the handshake', async () => {
    const { port } = await startFrontend({ tls: tls(true) });
    const url = `https://127.0.0.1:${port}/livez`;
    const ca = pem(pki.ca);
    expect(await get(url, { ca, cert: pem(pki.clientCert), key: pem(pki.clientKey) })).toBe(200);
    await expect(get(url, { ca })).rejects.toThrow();
    await expect(
      get(url, { ca, cert: pem(pki.otherClientCert), key: pem(pki.otherClientKey) }),
    ).rejects.toThrow();
  });
});
