import { afterEach, describe, expect, it } from 'vitest';
import { startFrontend, stopFrontends } from './frontend-fixture.js';

// Issue 16, item 3: the key is the whole rest of the path after /kv/, percent-decoded.

afterEach(stopFrontends);

describe('keys in the path', () => {
  it('takes everything after /kv/ as the key: slashes, //, a trailing / and %2F', async () => {
    const { app, host } = await startFrontend();
    const cases: [url: string, key: string][] = [
      ['/kv/app/config', 'app/config'],
      ['/kv/app%2Fconfig', 'app/config'],
      ['/kv/a//b', 'a//b'],
      ['/kv//lead', '/lead'],
      ['/kv/dir/', 'dir/'],
      ['/kv/sp%20ace/%3Fq%23h', 'sp ace/?q#h'],
      ['/kv/%C3%A9t%C3%A9/%E2%82%AC', 'été/€'],
      ['/kv/plus+sign?consistency=stale', 'plus+sign'],
    ];
    for (const [url, key] of cases) {
      const put = await app.inject({ method: 'PUT', url: url.split('?')[0]!, payload: key });
      expect(put.statusCode, url).toBe(200);
      const get = await app.inject({ method: 'GET', url });
      expect(get.statusCode, url).toBe(200);
      expect(get.body, url).toBe(key);
    }
    expect(host.router.seen.map((op) => ('key' in op ? op.key : null))).toEqual(
      cases.flatMap(([, key]) => [key, key]),
    );
    // The same key however its slash is written: one value.
    const del = await app.inject({ method: 'DELETE', url: '/kv/app%2Fconfig' });
    expect(del.statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/kv/app/config' })).statusCode).toBe(404);
  });

  it('answers 400 BadKey for an empty key and for bytes that are not UTF-8, routing nothing', async () => {
    const { app, host } = await startFrontend();
    for (const url of ['/kv/', '/kv/%FF', '/kv/a/%C0%AF', '/kv/%E2%82', '/kv/bad%zz']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(400);
      expect(response.json(), url).toMatchObject({ error: 'BadKey' });
    }
    // `/kv` with no key is the listing (list-routes.ts): before the cluster forms, a 503.
    expect((await app.inject({ method: 'GET', url: '/kv' })).json()).toMatchObject({
      error: 'Unavailable',
    });
    expect(host.router.seen).toEqual([]);
  });
});

describe('a failed condition (412)', () => {
  it('carries the current version as ETag, or says the key is absent', async () => {
    const { app, host } = await startFrontend();
    host.router.forced = { status: 412, current: 42 };
    const changed = await app.inject({
      method: 'PUT',
      url: '/kv/k',
      payload: 'v',
      headers: { 'if-match': '"7"' },
    });
    expect(changed.statusCode).toBe(412);
    expect(changed.headers['etag']).toBe('"42"');
    expect(changed.json()).toMatchObject({ error: 'PreconditionFailed' });
    expect(changed.json<{ message: string }>().message).toContain('version 42');
    host.router.forced = { status: 412, current: null };
    const absent = await app.inject({
      method: 'DELETE',
      url: '/kv/k',
      headers: { 'if-match': '"7"' },
    });
    expect(absent.statusCode).toBe(412);
    expect(absent.headers['etag']).toBeUndefined();
    expect(absent.json<{ message: string }>().message).toContain('the key is absent');
  });
});
