import { afterEach, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../frontend/access-tokens.js';
import { formatListCursor } from '../../frontend/list-cursor.js';
import { startFrontend, stopFrontends, TWO_GROUPS } from './frontend-fixture.js';

afterEach(stopFrontends);

type App = Awaited<ReturnType<typeof startFrontend>>['app'];

async function put(app: App, key: string, value: string | Buffer): Promise<void> {
  const url = `/kv/${encodeURIComponent(key)}`;
  expect((await app.inject({ method: 'PUT', url, payload: value })).statusCode).toBe(200);
}

interface Page {
  items: { key: string; version: string; value?: string; valueBase64?: string }[];
  next: string | null;
  revision: string;
}

async function list(app: App, query: string): Promise<Page> {
  const response = await app.inject({ method: 'GET', url: `/kv?${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Page>();
}

describe('GET /kv?prefix= (listing) and DELETE /kv?prefix=', () => {
  it('merges both groups in UTF-8 key order and pages through every key once', async () => {
    const { app, host } = await startFrontend({ cluster: TWO_GROUPS });
    const keys = Array.from({ length: 23 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
    keys.push('p/\uffff', 'p/\u{10000}');
    for (const key of keys) await put(app, key, `v-${key}`);
    await put(app, 'q/other', 'x');
    await put(app, 'bin/x', Buffer.from([0xff, 0x00]));
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    let first: string | null = null;
    do {
      const page: Page = await list(
        app,
        `prefix=p%2F&limit=4${next === null ? '' : `&after=${next}`}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(4);
      expect(page.revision).toMatch(/^t7;0=\d+,1=\d+$/);
      // The earliest read point of each group over the pages so far, though writes go on.
      first ??= page.revision;
      expect(page.revision).toBe(first);
      await put(app, 'other/meanwhile', String(pages));
      for (const item of page.items) expect(item.value).toBe(`v-${item.key}`);
      seen.push(...page.items.map((i) => i.key));
      next = page.next;
      pages++;
    } while (next !== null);
    expect(seen).toEqual(keys); // already in UTF-8 order: U+FFFF before U+10000
    expect(pages).toBeGreaterThanOrEqual(7);
    // Both groups really hold some of them, so the merge was tested.
    const groups = new Set(host.router.seen.flatMap((op) => (op.op === 'range' ? [op.group] : [])));
    expect(groups).toEqual(new Set([0, 1]));

    const bare = await list(app, 'prefix=bin%2F&keysOnly=1');
    expect(bare.items).toEqual([{ key: 'bin/x', version: expect.any(String) }]);
    const binary = await list(app, 'prefix=bin%2F');
    expect(binary.items[0]?.valueBase64).toBe(Buffer.from([0xff, 0]).toString('base64'));
    const everything = await list(app, '');
    expect(everything.items).toHaveLength(keys.length + 3);
    expect(everything.next).toBeNull();
  });

  it('asks only the one group of a hash-tagged prefix', async () => {
    const { app, host } = await startFrontend({ cluster: TWO_GROUPS });
    await put(app, '{u1}/a', '1');
    await put(app, '{u1}/b', '2');
    const page = await list(app, `prefix=${encodeURIComponent('{u1}/')}`);
    expect(page.items.map((i) => i.key)).toEqual(['{u1}/a', '{u1}/b']);
    expect(page.revision).toMatch(/^t7;\d=\d+$/);
    expect(host.router.seen.filter((op) => op.op === 'range')).toHaveLength(1);
  });

  it('refuses a bad limit, a garbled cursor and one of another table version with typed 400s', async () => {
    const { app } = await startFrontend({ cluster: TWO_GROUPS });
    const error = async (query: string) => {
      const response = await app.inject({ method: 'GET', url: `/kv?${query}` });
      expect(response.statusCode, query).toBe(400);
      return response.json<{ error: string }>().error;
    };
    expect(await error('limit=0')).toBe('BadLimit');
    expect(await error('limit=10001')).toBe('BadLimit');
    expect(await error('limit=abc')).toBe('BadLimit');
    expect(await error('after=%%%')).toBe('BadCursor');
    expect(await error('after=bm90LWpzb24')).toBe('BadCursor');
    const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(await error(`after=${json({ t: 7, k: 'p/1' })}`)).toBe('BadCursor');
    expect(await error(`after=${json({ t: 7, k: 'p/1', r: { x: 1 } })}`)).toBe('BadCursor');
    expect(await error(`after=${json({ t: 7, k: '', r: {} })}`)).toBe('BadCursor');
    const old = formatListCursor({ tableVersion: 6, key: 'p/1', readAt: new Map() });
    expect(await error(`after=${old}`)).toBe('CursorTableChanged');
    expect(await error('consistency=sometimes')).toBe('BadConsistency');
    expect(await error(`prefix=${'x'.repeat(1025)}`)).toBe('BadPrefix');
  });

  it('streams every page as NDJSON, then a done line with the revision', async () => {
    const { app } = await startFrontend({ cluster: TWO_GROUPS });
    for (let i = 0; i < 30; i++) await put(app, `s/${String(i).padStart(2, '0')}`, 'v');
    const response = await app.inject({
      method: 'GET',
      url: '/kv?prefix=s%2F&limit=7&format=ndjson',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = response.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, -1).map((l) => l.key)).toEqual(
      Array.from({ length: 30 }, (_, i) => `s/${String(i).padStart(2, '0')}`),
    );
    expect(lines.at(-1)).toEqual({
      done: true,
      revision: expect.stringMatching(/^t7;0=\d+,1=\d+$/),
    });
  });

  it('deletes a prefix in batches per group and says how many', async () => {
    const { app, host } = await startFrontend({ cluster: TWO_GROUPS });
    for (let i = 0; i < 12; i++) await put(app, `d/${i}`, 'v');
    await put(app, 'e/keep', 'v');
    const response = await app.inject({ method: 'DELETE', url: '/kv?prefix=d%2F' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ deleted: 12 });
    expect((await list(app, 'prefix=d%2F')).items).toEqual([]);
    expect((await list(app, '')).items.map((i) => i.key)).toEqual(['e/keep']);
    // Per group: batches until one deletes nothing.
    const batches = host.router.seen.filter((op) => op.op === 'deleteRange');
    expect(batches.length).toBe(4);
    const empty = await app.inject({ method: 'DELETE', url: '/kv?prefix=' });
    expect(empty.json()).toMatchObject({ error: 'BadPrefix' });
  });

  it('answers 503 when a group is unavailable, and lists nothing partial', async () => {
    const { app, host } = await startFrontend({ cluster: TWO_GROUPS });
    host.router.forced = { status: 503, reason: 'no leader' };
    const response = await app.inject({ method: 'GET', url: '/kv?prefix=a' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'Unavailable' });
  });

  it('lets a token limited to a prefix list and delete only inside it', async () => {
    const reader = 'reader-token-0123456789';
    const writer = 'tenant-token-0123456789';
    const tokens = AccessTokens.parse(`${reader} read t/\n${writer} write t/\n`);
    const { app } = await startFrontend({ cluster: TWO_GROUPS, tokens });
    const as = (token: string, method: 'GET' | 'DELETE', query: string) =>
      app.inject({ method, url: `/kv?${query}`, headers: { authorization: `Bearer ${token}` } });
    expect((await as(reader, 'GET', 'prefix=t%2Fa')).statusCode).toBe(200);
    expect((await as(reader, 'GET', 'prefix=t')).statusCode).toBe(403);
    expect((await as(reader, 'GET', '')).statusCode).toBe(403);
    expect((await as(reader, 'DELETE', 'prefix=t%2F')).statusCode).toBe(403);
    expect((await as(writer, 'DELETE', 'prefix=t%2F')).statusCode).toBe(200);
    expect((await as(writer, 'DELETE', 'prefix=u%2F')).statusCode).toBe(403);
  });
});

describe('GET /kv?format=ndjson under a slow reader', () => {
  it('fetches pages only as fast as the client reads them', async () => {
    // The load below would trip the event-loop-delay shedding (503 Busy): not what is tested.
    const limits = { maxEventLoopDelayMs: 0 };
    const { app, host, port } = await startFrontend({ cluster: TWO_GROUPS, limits });
    // 25 MiB in all, far more than the socket buffers between server and client hold.
    const value = 'v'.repeat(64 * 1024);
    for (let start = 0; start < 400; start += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          put(app, `n/${String(start + i).padStart(4, '0')}`, value),
        ),
      );
    }
    const ranges = () => host.router.seen.filter((op) => op.op === 'range').length;
    const before = ranges();
    const { request } = await import('node:http');
    const received = await new Promise<{ pausedAt: number; total: number }>((resolve, reject) => {
      const req = request(
        `http://127.0.0.1:${port}/kv?prefix=n%2F&limit=2&format=ndjson`,
        (res) => {
          res.pause();
          // A reader that takes nothing for a while: the server must stop asking for pages.
          setTimeout(() => {
            const pausedAt = ranges() - before;
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ pausedAt, total: body.trimEnd().split('\n').length }));
            res.resume();
          }, 500);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(received.total).toBe(401);
    expect(ranges() - before).toBe(400);
    // 200 pages of 2 groups in all; while paused, only what fills the buffers (a few MiB).
    expect(received.pausedAt).toBeLessThan(100);
  });
});
