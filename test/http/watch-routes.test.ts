import { afterEach, describe, expect, it } from 'vitest';
import { keyHash } from '../../bootstrap/lookup-table.js';
import type { HttpLimits } from '../../frontend/http-frontend.js';
import type { WatchEvent } from '../../watch/watch-port.js';
import {
  TWO_GROUPS,
  startFrontend,
  stopFrontends,
  type FrontendOptions,
} from './frontend-fixture.js';
import { SseReader } from './sse-reader.js';

afterEach(stopFrontends);

const readers: SseReader[] = [];
afterEach(() => {
  for (const reader of readers.splice(0)) reader.close();
});

async function start(options: FrontendOptions = {}) {
  const started = await startFrontend({ cluster: TWO_GROUPS, ...options });
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const reader = await SseReader.open(started.port, path, headers);
    readers.push(reader);
    return reader;
  };
  const metric = async (name: string) =>
    (await started.host.registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
  return { ...started, fake: started.host.watch, open, metric };
}

type Started = Awaited<ReturnType<typeof start>>;
/** Whether a paused reader's stream reached what a test waits for. */
type Metric = (metric: Started['metric'], fake: Started['fake']) => Promise<boolean>;
/** Changes applied at once while a reader is paused (pausedReader). */
const PAUSED_CHANGES = 100;

const put = (zxid: number, key: string, value: string | Uint8Array): WatchEvent => ({
  zxid,
  type: 'put',
  changes: [{ key, type: 'put', value: typeof value === 'string' ? Buffer.from(value) : value }],
});

/** A key whose hash falls in `group` of TWO_GROUPS (each owns half the hash space). */
function keyIn(group: number, stem: string): string {
  for (let i = 0; ; i++) {
    const key = `${stem}${i}`;
    if (Math.floor(keyHash(key) / 2 ** 31) === group) return key;
  }
}

describe('GET /watch as Server-Sent Events', () => {
  it('starts with a progress event naming the start cursor, then one event per zxid, id = the whole cursor', async () => {
    const { fake, open } = await start();
    fake.advance(0, 10);
    fake.advance(1, 20);
    const sse = await open('/watch?prefix=a/');
    expect(sse.status).toBe(200);
    expect(sse.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(await sse.event(1)).toEqual({ event: 'progress', id: 't7;0=10,1=20', data: '{}' });
    fake.append(0, put(11, 'a/x', 'one'));
    fake.append(0, put(12, 'b/other', 'not watched'));
    fake.append(1, {
      zxid: 21,
      type: 'txn',
      changes: [
        { key: 'a/bin', type: 'put', value: new Uint8Array([0xff, 0xfe]) },
        { key: 'a/big', type: 'put', valueOmitted: true },
        { key: 'a/gone', type: 'delete' },
        { key: 'b/skipped', type: 'delete' },
      ],
    });
    fake.append(0, put(13, 'a/bom', new Uint8Array([0xef, 0xbb, 0xbf, 0x68])));
    await sse.until(() => sse.events.length >= 4);
    const byZxid = new Map(sse.events.slice(1).map((e) => [JSON.parse(e.data).zxid, e]));
    expect(byZxid.get('11')).toEqual({
      event: 'put',
      id: 't7;0=11,1=20',
      data: JSON.stringify({
        group: 0,
        zxid: '11',
        changes: [{ key: 'a/x', type: 'put', version: '11', value: 'one' }],
      }),
    });
    expect(byZxid.get('21')!.event).toBe('txn');
    expect(JSON.parse(byZxid.get('21')!.data)).toEqual({
      group: 1,
      zxid: '21',
      changes: [
        { key: 'a/bin', type: 'put', version: '21', valueBase64: '//4=' },
        { key: 'a/big', type: 'put', version: '21', valueOmitted: true },
        { key: 'a/gone', type: 'delete', version: '21' },
      ],
    });
    // A leading BOM is part of the value: kept, not eaten by the decoder.
    expect(JSON.parse(byZxid.get('13')!.data).changes[0].value).toBe('\ufeffh');
    // Ids never go backwards in any group: the last one names both groups' last events.
    expect(sse.events.at(-1)!.id).toMatch(/^t7;0=1[13],1=2[01]$/);
  });

  it('resumes from Last-Event-ID (or ?cursor=) with exactly the changes after it, on any group', async () => {
    const { fake, open } = await start();
    for (const zxid of [1, 2, 3]) fake.append(0, put(zxid, `a/${zxid}`, 'v'));
    for (const zxid of [5, 6]) fake.append(1, put(zxid, `a/${zxid}`, 'v'));
    const sse = await open('/watch?prefix=a/', { 'last-event-id': 't7;0=1,1=5' });
    // The start is written at once: the events, then a progress event only if the cursor moved
    // past the last event's id (here it did not: a keep-alive comment instead).
    await sse.until(() => sse.comments > 0);
    const zxids = sse.events.filter((e) => e.event === 'put').map((e) => JSON.parse(e.data).zxid);
    expect(zxids.sort()).toEqual(['2', '3', '6']);
    const byQuery = await open('/watch?prefix=a/&cursor=t7%3B0%3D3%2C1%3D5');
    await byQuery.until(() => byQuery.comments > 0);
    expect(byQuery.events.map((e) => [e.event, e.id])).toEqual([['put', 't7;0=3,1=6']]);
  });

  it("polls only the groups it needs: a key its group, a prefix with a hash tag its tag's group", async () => {
    const { fake, open } = await start();
    const key = keyIn(1, 'k');
    await (await open(`/watch?key=${key}`)).event(1);
    expect(fake.polls.map((p) => p.group)).toEqual([1, 1]);
    const tag = (() => {
      for (let i = 0; ; i++) if (Math.floor(keyHash(`t${i}`) / 2 ** 31) === 0) return `t${i}`;
    })();
    fake.polls.length = 0;
    const sse = await open(`/watch?prefix=${encodeURIComponent(`{${tag}}/`)}`);
    expect((await sse.event(1)).id).toBe('t7;0=0');
    expect(new Set(fake.polls.map((p) => p.group))).toEqual(new Set([0]));
  });

  it('keeps one poll per group waiting, and cancels it when the client goes away', async () => {
    const { fake, open, metric } = await start();
    const sse = await open('/watch?prefix=a/&key=b');
    await sse.event(1);
    await sse.until(() => fake.waiting.length === 2);
    expect(fake.waiting.map((p) => p.group).sort()).toEqual([0, 1]);
    expect(await metric('zabkv_watch_streams')).toBe(1);
    const waiting = fake.waiting.map((p) => p.id);
    sse.close();
    await sse.until(() => true);
    await new Promise<void>((resolve) => {
      const check = () => (fake.cancels.length >= 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(fake.cancels.sort()).toEqual(waiting.sort());
    expect(fake.waiting).toEqual([]);
    expect(await metric('zabkv_watch_streams')).toBe(0);
  });

  it('answers 410 Compacted before the stream starts, and event: error mid-stream', async () => {
    const { fake, open, app, metric } = await start();
    fake.append(0, put(5, 'a/5', 'v'));
    fake.compact(0, 4);
    const gone = await app.inject({ url: '/watch?prefix=a/&cursor=t7;0=3,1=0' });
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({ error: 'Compacted' });
    const sse = await open('/watch?prefix=a/&cursor=t7;0=4,1=0');
    await sse.until(() => fake.waiting.length === 2);
    fake.endWaiting(1, 'compacted');
    await sse.until(() => sse.ended);
    expect(sse.events.at(-1)).toEqual({
      event: 'error',
      id: undefined,
      data: JSON.stringify({ error: 'Compacted', group: 1 }),
    });
    expect(await metric('zabkv_watch_streams_compacted_total')).toBe(2);
  });

  it('sends event: progress when the cursor moved with nothing matching (?progress=), keep-alives without', async () => {
    const { fake, open } = await start();
    const sse = await open('/watch?key=a&progress=60');
    await sse.event(1);
    await sse.until(() => fake.waiting.length === 1);
    const group = fake.waiting[0]!.group;
    expect(sse.events[0]!.id).toBe(`t7;${group}=0`);
    fake.advance(group, 42);
    fake.flush(group);
    expect(await sse.event(2)).toEqual({ event: 'progress', id: `t7;${group}=42`, data: '{}' });
    const quiet = await open('/watch?key=a');
    await quiet.event(1);
    await quiet.until(() => fake.waiting.length === 2);
    fake.advance(group, 43);
    fake.flush(group);
    await quiet.until(() => quiet.comments > 0);
    expect(quiet.events).toHaveLength(1);
  });

  /**
   * A stream of key `k` whose reader stops reading, then 20 MB of changes applied at once: more
   * than a paused reader's socket buffers hold. Resolves once `settled` says so.
   */
  async function pausedReader(limits: Partial<HttpLimits>, settled: Metric) {
    const { fake, open, metric } = await start({
      limits: { maxWatchBatchBytes: 256 * 1024, ...limits },
    });
    const sse = await open('/watch?key=k');
    await sse.event(1);
    await sse.until(() => fake.waiting.length === 1);
    const group = fake.waiting[0]!.group;
    sse.response.pause();
    const value = Buffer.alloc(200 * 1024, 'x');
    for (let zxid = 1; zxid <= PAUSED_CHANGES; zxid++) fake.append(group, put(zxid, 'k', value));
    await new Promise<void>((resolve) => {
      const check = async () =>
        (await settled(metric, fake)) ? resolve() : setTimeout(() => void check(), 10);
      void check();
    });
    return { fake, sse };
  }

  it('a slow reader holds one batch: no poll while its socket is full, every event once it reads on', async () => {
    const { fake, sse } = await pausedReader(
      {},
      async (metric, fake) =>
        (await metric('zabkv_watch_slow_total')) > 0 && fake.waiting.length === 0,
    );
    // Stuck on a full socket: it pulls no more of the ring than the socket holds, however long
    // it stays paused (apply, here `append`, never waited for it).
    const handed = fake.handedOut;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fake.handedOut).toBe(handed);
    expect(handed).toBeLessThan(PAUSED_CHANGES / 2);
    sse.response.resume();
    await sse.until(() => sse.events.length === PAUSED_CHANGES + 1);
    const zxids = sse.events.slice(1).map((e) => Number(JSON.parse(e.data).zxid));
    expect(zxids).toEqual(Array.from({ length: PAUSED_CHANGES }, (_, i) => i + 1));
  });

  it('answers HEAD /watch with its headers at once, holding no watch', async () => {
    const { app, metric } = await start();
    const head = await app.inject({ method: 'HEAD', url: '/watch?prefix=x' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(await metric('zabkv_watch_streams')).toBe(0);
  });

  it('closes a stream whose reader takes nothing for the stall limit, freeing its slot', async () => {
    // It held its connection, its watch slot and a batch for as long as the client stayed
    // connected, never polling again.
    const { fake } = await pausedReader(
      { watchStallMs: 300 },
      async (metric) =>
        (await metric('zabkv_watch_streams_stalled_total')) === 1 &&
        (await metric('zabkv_watch_streams')) === 0,
    );
    expect(fake.handedOut).toBeLessThan(PAUSED_CHANGES / 2);
  });

  it('caps open watches and long-polls per node: 503 TooManyWatchers with Retry-After', async () => {
    const { open, app } = await start({ limits: { maxWatchers: 1 } });
    await (await open('/watch?key=a')).event(1);
    const refused = await app.inject({ url: '/watch?key=b' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ error: 'TooManyWatchers' });
    const poll = await app.inject({ url: '/kv/a?wait=1&version=0' });
    expect(poll.statusCode).toBe(503);
  });

  it('refuses malformed watches with 400s that say why, an older table with 400 CursorTableChanged, no table with 503', async () => {
    const { app } = await start();
    const answer = async (url: string, headers: Record<string, string> = {}) => {
      const response = await app.inject({ url, headers });
      return [response.statusCode, response.json().error];
    };
    expect(await answer('/watch')).toEqual([400, 'BadWatch']);
    const many = Array.from({ length: 65 }, (_, i) => `key=k${i}`).join('&');
    expect(await answer(`/watch?${many}`)).toEqual([400, 'BadWatch']);
    expect(await answer(`/watch?prefix=${'p'.repeat(1025)}`)).toEqual([400, 'BadWatch']);
    expect(await answer('/watch?key=')).toEqual([400, 'BadKey']);
    expect(await answer('/watch?key=a&cursor=nonsense')).toEqual([400, 'BadCursor']);
    expect(await answer('/watch?prefix=a&cursor=t7;0=5')).toEqual([400, 'BadCursor']);
    expect(await answer('/watch?key=a', { 'last-event-id': 't7;0=x' })).toEqual([400, 'BadCursor']);
    expect(await answer('/watch?prefix=a&cursor=t0;0=1,1=1')).toEqual([400, 'BadCursor']);
    expect(await answer('/watch?prefix=a&progress=0')).toEqual([400, 'BadWait']);
    expect(await answer('/watch?prefix=a&progress=301')).toEqual([400, 'BadWait']);
    expect(await answer('/watch?prefix=a&list=yes')).toEqual([400, 'BadWatch']);
    const old = { ...TWO_GROUPS, version: 8 };
    const { app: newer } = await startFrontend({ cluster: old });
    const stale = await newer.inject({ url: '/watch?prefix=a&cursor=t7;0=1,1=1' });
    expect([stale.statusCode, stale.json().error]).toEqual([400, 'CursorTableChanged']);
    const { app: unformed } = await startFrontend();
    expect((await unformed.inject({ url: '/watch?prefix=a' })).statusCode).toBe(503);
  });
});

describe('GET /watch with Accept: application/json (one long-poll batch)', () => {
  const json = { accept: 'application/json' };

  it('without a cursor says where now is; with one, the changes after it, or none when the wait ends', async () => {
    const { app, fake } = await start();
    fake.advance(0, 7);
    const now = await app.inject({ url: '/watch?prefix=a/', headers: json });
    expect(now.json()).toEqual({ events: [], cursor: 't7;0=7,1=0' });
    const waiting = app.inject({
      url: '/watch?prefix=a/&cursor=t7;0=7,1=0&wait=60',
      headers: json,
    });
    await new Promise<void>((resolve) => {
      const check = () => (fake.waiting.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    fake.append(1, put(3, 'a/z', 'zed'));
    const batch = await waiting;
    expect(batch.statusCode).toBe(200);
    expect(batch.json()).toEqual({
      events: [
        {
          type: 'put',
          group: 1,
          zxid: '3',
          changes: [{ key: 'a/z', type: 'put', version: '3', value: 'zed' }],
        },
      ],
      cursor: 't7;0=7,1=3',
    });
    // The group that lost the race was given up, not left waiting.
    expect(fake.waiting).toEqual([]);
    fake.advance(0, 9);
    const none = await app.inject({
      url: '/watch?prefix=a/&cursor=t7;0=7,1=3&wait=0.05',
      headers: json,
    });
    expect(none.json()).toEqual({ events: [], cursor: 't7;0=9,1=3' });
    fake.compact(1, 5);
    const gone = await app.inject({
      url: '/watch?prefix=a/&cursor=t7;0=9,1=3&wait=1',
      headers: json,
    });
    expect([gone.statusCode, gone.json().error]).toEqual([410, 'Compacted']);
  });
});

describe('GET /kv/<key>?wait= (long-poll on one key)', () => {
  it('answers at once when the version differs, on a change while waiting, 304 when the wait ends', async () => {
    const { app, fake, metric } = await start();
    expect((await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v1' })).statusCode).toBe(200);
    const differs = await app.inject({ url: '/kv/k?wait=60&version=0' });
    expect([differs.statusCode, differs.body, differs.headers['etag']]).toEqual([200, 'v1', '"1"']);
    const absent = await app.inject({ url: '/kv/none?wait=60&version=1' });
    expect(absent.statusCode).toBe(404);
    const quiet = await app.inject({ url: '/kv/k?wait=0.05', headers: { 'if-none-match': '"1"' } });
    expect([quiet.statusCode, quiet.headers['etag'], quiet.body]).toEqual([304, '"1"', '']);
    expect(quiet.headers['x-kv-zxid']).toBe('1');
    const none = await app.inject({ url: '/kv/none?wait=0.05&version=0' });
    expect(none.statusCode).toBe(304);

    const waiting = app.inject({ url: '/kv/k?wait=60&version=1' });
    await new Promise<void>((resolve) => {
      const check = () => (fake.waiting.length === 1 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(fake.waiting[0]).toMatchObject({ after: 1, filter: { keys: ['k'], prefixes: [] } });
    expect(await metric('zabkv_watch_long_polls')).toBe(1);
    // Another key's write does not answer it.
    await app.inject({ method: 'PUT', url: '/kv/other', payload: 'x' });
    expect(fake.waiting).toHaveLength(1);
    await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v3' });
    const changed = await waiting;
    expect([changed.statusCode, changed.body, changed.headers['etag']]).toEqual([200, 'v3', '"3"']);

    const deleting = app.inject({ url: '/kv/k?wait=60', headers: { 'if-none-match': '"3"' } });
    await new Promise<void>((resolve) => {
      const check = () => (fake.waiting.length === 1 ? resolve() : setTimeout(check, 5));
      check();
    });
    await app.inject({ method: 'DELETE', url: '/kv/k' });
    expect((await deleting).statusCode).toBe(404);
    expect(await metric('zabkv_watch_long_polls')).toBe(0);
  });

  it('refuses a wait over 300 s or a malformed version with 400; a plain GET ignores If-None-Match: *', async () => {
    const { app } = await start();
    await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    expect((await app.inject({ url: '/kv/k?wait=301&version=1' })).json().error).toBe('BadWait');
    expect((await app.inject({ url: '/kv/k?wait=soon&version=1' })).json().error).toBe('BadWait');
    expect((await app.inject({ url: '/kv/k?wait=5' })).json().error).toBe('BadCondition');
    expect((await app.inject({ url: '/kv/k?wait=5&version=-1' })).json().error).toBe(
      'BadCondition',
    );
    const plain = await app.inject({ url: '/kv/k', headers: { 'if-none-match': '*' } });
    expect(plain.statusCode).toBe(200);
  });
});

describe('watch rights', () => {
  it('a token limited to a prefix watches keys and prefixes under it only', async () => {
    const { AccessTokens } = await import('../../frontend/access-tokens.js');
    const tokens = AccessTokens.parse('tenant-a-token-0123456789 read a/\n');
    const { app } = await start({ tokens });
    const auth = { authorization: 'Bearer tenant-a-token-0123456789', accept: 'application/json' };
    const ok = await app.inject({ url: '/watch?prefix=a/x&key=a/y', headers: auth });
    expect(ok.statusCode).toBe(200);
    for (const url of ['/watch?prefix=a', '/watch?prefix=a/&key=b', '/watch?prefix=']) {
      expect((await app.inject({ url, headers: auth })).statusCode, url).toBe(403);
    }
  });
});

describe('GET /watch?list=1', () => {
  it('sends the matching keys, then event: synced with the cursor they were read at, then changes', async () => {
    const { app, open, fake } = await start();
    for (const key of ['a/1', 'a/2', 'b/1']) {
      await app.inject({ method: 'PUT', url: `/kv/${encodeURIComponent(key)}`, payload: key });
    }
    const sse = await open('/watch?prefix=a/&key=b/1&list=1');
    await sse.until(() => sse.events.some((e) => e.event === 'synced'));
    const items = sse.events.filter((e) => e.event === 'item').map((e) => JSON.parse(e.data));
    expect(items).toEqual([
      { key: 'a/1', version: '1', value: 'a/1' },
      { key: 'a/2', version: '2', value: 'a/2' },
      { key: 'b/1', version: '3', value: 'b/1' },
    ]);
    const synced = sse.events.find((e) => e.event === 'synced')!;
    expect(synced.id).toBe('t7;0=3,1=3');
    await sse.until(() => fake.waiting.length === 2);
    await app.inject({ method: 'PUT', url: '/kv/a%2F3', payload: 'three' });
    const change = await sse.event(sse.events.length + 1);
    expect(change.event).toBe('put');
    expect(JSON.parse(change.data).changes).toEqual([
      { key: 'a/3', type: 'put', version: '4', value: 'three' },
    ]);
  });

  it('leaves out a change a listed page already showed, and takes no cursor', async () => {
    const { Listed } = await import('../../frontend/watch-list.js');
    const listed = new Listed();
    listed.add({ prefix: 'a/', after: null, through: 'a/m', readAt: new Map([[0, 10]]) });
    listed.add({ prefix: 'a/', after: 'a/m', through: null, readAt: new Map([[0, 20]]) });
    expect(listed.start([0])).toEqual(new Map([[0, 10]]));
    expect(listed.covers(0, 'a/b', 10)).toBe(true);
    expect(listed.covers(0, 'a/b', 11)).toBe(false);
    expect(listed.covers(0, 'a/x', 15)).toBe(true);
    expect(listed.covers(0, 'a/x', 21)).toBe(false);
    expect(listed.covers(1, 'a/b', 1)).toBe(false);
    const { app } = await start();
    const both = await app.inject({ url: '/watch?prefix=a/&list=1&cursor=t7;0=1,1=1' });
    expect([both.statusCode, both.json().error]).toEqual([400, 'BadWatch']);
  });
});

describe('draining', () => {
  it('ends open streams and long-polls (clients move on with their cursor) and refuses new ones', async () => {
    const { app, open, host, metric } = await start();
    const sse = await open('/watch?prefix=a/');
    await sse.event(1);
    await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' });
    const polling = app.inject({ url: '/kv/k?wait=60&version=1' });
    await new Promise<void>((resolve) => {
      const check = async () =>
        (await metric('zabkv_watch_long_polls')) === 1
          ? resolve()
          : setTimeout(() => void check(), 5);
      void check();
    });
    await host.frontend.drain();
    await sse.until(() => sse.ended);
    expect((await polling).statusCode).toBe(304);
    expect((await app.inject({ url: '/watch?prefix=a/' })).statusCode).toBe(503);
    expect(await metric('zabkv_watch_streams')).toBe(0);
  });
});
