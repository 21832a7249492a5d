import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UNFORMED, startFrontend, stopFrontends } from './frontend-fixture.js';

afterEach(stopFrontends);

async function start(options: { ready?: boolean; maxInFlight?: number } = {}) {
  const { host, app } = await startFrontend(options);
  return { host, app };
}

describe('HTTP frontend (DESIGN §7)', () => {
  it('PUT stores raw bytes of any content type; GET returns them with ETag and X-Kv headers', async () => {
    const { app } = await start();
    const body = Buffer.from([0, 1, 2, 255, 10]);
    const put = await app.inject({
      method: 'PUT',
      url: '/kv/a%2Fb%20c',
      payload: body,
      headers: { 'content-type': 'image/png' },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ version: '1' });
    expect(put.headers['etag']).toBe('"1"');
    const get = await app.inject({ method: 'GET', url: '/kv/a%2Fb%20c' });
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload).toEqual(body);
    expect(get.headers).toMatchObject({
      etag: '"1"',
      'x-kv-group': '0',
      'x-kv-node': '2',
      'x-kv-epoch': '3',
      'x-kv-zxid': '1',
    });
    const stale = await app.inject({ method: 'GET', url: '/kv/a%2Fb%20c?consistency=stale' });
    expect(stale.headers['x-kv-consistency']).toBe('stale');
    expect((await app.inject({ method: 'GET', url: '/kv/missing' })).statusCode).toBe(404);
  });

  it('turns If-Match / If-None-Match into conditions and answers 412 when they fail', async () => {
    const { app, host } = await start();
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/kv/k',
          payload: 'v1',
          headers: { 'if-none-match': '*' },
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/kv/k',
          payload: 'v2',
          headers: { 'if-none-match': '*' },
        })
      ).statusCode,
    ).toBe(412);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/kv/k',
          payload: 'v2',
          headers: { 'if-match': '"9"' },
        })
      ).statusCode,
    ).toBe(412);
    expect(
      (
        await app.inject({
          method: 'PUT',
          url: '/kv/k',
          payload: 'v2',
          headers: { 'if-match': '"1"' },
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ method: 'DELETE', url: '/kv/k', headers: { 'if-match': '*' } }))
        .statusCode,
    ).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: '/kv/k' })).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'DELETE', url: '/kv/k', headers: { 'if-match': '*' } }))
        .statusCode,
    ).toBe(412);
    expect(host.router.seen.map((op) => ('condition' in op ? op.condition : undefined))).toEqual([
      { ifNoneMatch: '*' },
      { ifNoneMatch: '*' },
      { ifMatch: 9 },
      { ifMatch: 1 },
      { ifMatch: '*' },
      undefined,
      { ifMatch: '*' },
    ]);
  });

  it('rejects bad input with a clear JSON error and routes nothing', async () => {
    const { app, host } = await start();
    const cases: [InjectOptions, number, string][] = [
      [{ method: 'GET', url: `/kv/${'x'.repeat(1025)}` }, 400, 'BadKey'],
      [
        { method: 'PUT', url: '/kv/k', payload: Buffer.alloc(1024 * 1024 + 1) },
        413,
        'ValueTooLarge',
      ],
      [
        { method: 'PUT', url: '/kv/k', payload: 'v', headers: { 'if-match': 'nope' } },
        400,
        'BadCondition',
      ],
      [
        { method: 'PUT', url: '/kv/k', payload: 'v', headers: { 'if-none-match': '"3"' } },
        400,
        'BadCondition',
      ],
      [{ method: 'GET', url: '/kv/k?consistency=eventual' }, 400, 'BadConsistency'],
      [{ method: 'POST', url: '/kv/k', payload: 'v' }, 405, 'MethodNotAllowed'],
      [{ method: 'GET', url: '/nothing' }, 404, 'NoSuchRoute'],
    ];
    for (const [request, status, error] of cases) {
      const response = await app.inject(request);
      expect(response.statusCode, JSON.stringify(request).slice(0, 80)).toBe(status);
      expect(response.json()).toMatchObject({ error });
      expect(response.body).not.toMatch(/at .*\.js/); // no stack traces
    }
    expect(host.router.seen).toEqual([]);
    const okay = await app.inject({ method: 'PUT', url: `/kv/${'é'.repeat(512)}`, payload: 'v' });
    expect(okay.statusCode).toBe(200); // 1024 bytes of UTF-8 is the limit, inclusive
  });

  it('answers a method a path does not take with 405 and Allow, a path nothing takes with 404', async () => {
    const { app, host } = await start();
    const cases: [InjectOptions, string][] = [
      [{ method: 'POST', url: '/kv/a%2Fb', payload: 'v' }, 'DELETE, GET, HEAD, PUT'],
      [{ method: 'OPTIONS', url: '/kv/a' }, 'DELETE, GET, HEAD, PUT'],
      [{ method: 'PATCH', url: '/kv?prefix=a' }, 'DELETE, GET, HEAD'],
      [{ method: 'GET', url: '/txn' }, 'POST'],
      [{ method: 'PUT', url: '/txn' }, 'POST'],
      [{ method: 'POST', url: '/cluster' }, 'GET, HEAD'],
      [{ method: 'DELETE', url: '/watch?key=a' }, 'GET, HEAD'],
    ];
    for (const [request, allow] of cases) {
      const response = await app.inject(request);
      expect(response.statusCode, `${request.method} ${request.url}`).toBe(405);
      expect(response.headers['allow']).toBe(allow);
      expect(response.json()).toMatchObject({ error: 'MethodNotAllowed' });
    }
    expect((await app.inject({ method: 'POST', url: '/nothing' })).statusCode).toBe(404);
    expect(host.router.seen).toEqual([]);
  });

  it('maps 503 (did not happen, with Retry-After) and 504 (unknown outcome)', async () => {
    const { app, host } = await start();
    host.router.forced = { status: 503, reason: 'no leader' };
    const unavailable = await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('1');
    expect(unavailable.json()).toMatchObject({ error: 'Unavailable' });
    host.router.forced = { status: 504, reason: 'timed out' };
    const unknown = await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    expect(unknown.statusCode).toBe(504);
    expect(unknown.json()).toMatchObject({ error: 'Indeterminate' });
  });

  it('serves /livez, /readyz, /cluster and Prometheus /metrics', async () => {
    const { app } = await start({ ready: false });
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/cluster' })).json()).toEqual(UNFORMED);
    expect((await app.inject({ url: '/cluster?key=k' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/cluster?key=' })).json()).toMatchObject({ error: 'BadKey' });
    await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/zabkv_request_duration_seconds_count\{op="put",status="200"\} 1/);
  });

  it('once draining, answers new requests 503 while those in flight finish', async () => {
    const { app, host } = await start();
    host.router.holding = true;
    const inFlight = app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    await vi.waitFor(() => expect(host.router.seen).toHaveLength(1));
    let drained = false;
    const draining = host.frontend.drain().then(() => (drained = true));
    const response = await app.inject({ method: 'GET', url: '/kv/k' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'ShuttingDown' });
    expect(drained, 'drained with a request still in flight').toBe(false);
    host.router.release();
    const finished = await inFlight;
    expect(finished.statusCode).toBe(200);
    expect(finished.json()).toEqual({ version: '1' });
    await draining;
    expect(host.router.seen).toHaveLength(1); // the refused GET never reached the router
  });
});
