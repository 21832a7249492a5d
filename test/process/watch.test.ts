import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpUrl, type LocalCluster } from '../../client/local-cluster.js';
import { Indeterminate, Unavailable, ZabkvClient } from '../../client/zabkv-client.js';
import { SseReader } from '../http/sse-reader.js';
import { call, startedCluster, testDirectory, until } from './node-processes.js';

// Issue 12, "Done when": an SSE client sees every acknowledged write to its prefix while the
// node it streams from and then the group's leader are killed with SIGKILL, resuming with
// Last-Event-ID on another node; long-poll 200/304/404; a slow watcher is cut off with
// Compacted, never with a gap. Three nodes, one group of three; a small change history
// (2 MiB) so that the slow watcher falls out of it.

const dir = testDirectory('zabkv-watch-');
let cluster: LocalCluster;
const clients = new Map<number, ZabkvClient>();
const client = (node: number): ZabkvClient => {
  let c = clients.get(node);
  if (c === undefined) {
    c = new ZabkvClient({ nodes: [httpUrl(cluster.options, node)], timeoutMs: 10_000 });
    clients.set(node, c);
  }
  return c;
};

beforeAll(async () => {
  cluster = await startedCluster(dir, { env: { ZABKV_WATCH_HISTORY_BYTES: '2MiB' } });
}, 90_000);

afterAll(async () => {
  for (const c of clients.values()) await c.close();
  await cluster.stop();
}, 60_000);

async function leader(): Promise<number> {
  return until('a leader', async () => {
    const response = await call(`${httpUrl(cluster.options, 3)}/cluster`);
    const status = JSON.parse(response.text) as { groups?: { leader: number | null }[] };
    return status.groups?.[0]?.leader ?? undefined;
  });
}

describe('watches on a real cluster', () => {
  it('an SSE watcher sees every acknowledged write while its node, then the leader, are SIGKILLed', async () => {
    const watcher = new ZabkvClient({
      nodes: [1, 2, 3].map((n) => httpUrl(cluster.options, n)),
      timeoutMs: 5_000,
    });
    const seen: { zxid: number; key: string; version: string }[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const message of watcher.watch({ prefix: 'w/', signal: stop.signal })) {
        if (message.type === 'progress') continue;
        for (const change of message.changes)
          seen.push({ zxid: Number(message.zxid), key: change.key, version: change.version });
      }
    })();
    const acked: { key: string; version: string }[] = [];
    let writing = true;
    let sequence = 0;
    const writer = async (node: number) => {
      while (writing) {
        const key = `w/${sequence++ % 10}`;
        try {
          acked.push({ key, version: await client(node).put(key, `v${sequence}`) });
        } catch (error) {
          if (!(error instanceof Unavailable || error instanceof Indeterminate)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const seenCount = (n: number) => async () => (seen.length >= n ? true : undefined);
    // The watcher's first node is node 1 (its client goes round-robin from the first).
    const writers = [writer(2), writer(3)];
    await until('events through node 1', seenCount(20));
    await cluster.kill(1);
    const afterRelay = seen.length;
    await until('events after node 1 died', seenCount(afterRelay + 20), 60_000);
    cluster.startNode(1);
    await cluster.ready(60_000);
    const killed = await leader();
    await cluster.kill(killed);
    const afterLeader = seen.length;
    await until('events after the leader died', seenCount(afterLeader + 20), 60_000);
    cluster.startNode(killed);
    writing = false;
    await Promise.all(writers);
    const versions = new Set(seen.map((s) => `${s.key}@${s.version}`));
    await until('every acknowledged write seen', async () => {
      for (const s of seen) versions.add(`${s.key}@${s.version}`);
      return acked.every((a) => versions.has(`${a.key}@${a.version}`)) ? true : undefined;
    });
    // Never twice, never backwards: one group, so zxids strictly increase.
    const zxids = seen.map((s) => s.zxid);
    for (let i = 1; i < zxids.length; i++) expect(zxids[i]).toBeGreaterThan(zxids[i - 1]!);
    expect(acked.length).toBeGreaterThan(60);
    stop.abort();
    await watching;
    await watcher.close();
    await cluster.ready(60_000);
  }, 240_000);

  it('long-polls one key: 304 when the wait ends, 200 on a change, 404 on a delete', async () => {
    const url = (node: number, query: string) => `${httpUrl(cluster.options, node)}/kv/lp?${query}`;
    const version = await client(1).put('lp', 'one');
    const quiet = await call(url(2, `wait=0.5&version=${version}`));
    expect([quiet.status, quiet.headers['etag']]).toEqual([304, `"${version}"`]);
    const differs = await call(url(3, 'wait=30&version=0'));
    expect([differs.status, differs.text]).toEqual([200, 'one']);
    const waiting = call(url(2, `wait=30`), { headers: { 'if-none-match': `"${version}"` } });
    const next = await client(3).put('lp', 'two');
    const changed = await waiting;
    expect([changed.status, changed.headers['etag'], changed.text]).toEqual([
      200,
      `"${next}"`,
      'two',
    ]);
    const deleting = call(url(1, `wait=30&version=${next}`));
    await client(2).del('lp');
    const gone = await deleting;
    expect(gone.status).toBe(404);
    const absent = await call(url(3, 'wait=0.2&version=0'));
    expect(absent.status).toBe(304);
  }, 60_000);

  it('a watcher that stops reading is cut off with Compacted once it falls out of the history, never with a gap', async () => {
    const sse = await SseReader.open(
      Number(new URL(httpUrl(cluster.options, 2)).port),
      '/watch?prefix=slow%2F',
    );
    expect(sse.status).toBe(200);
    await sse.event(1);
    sse.response.pause();
    // 18 MB of changes: more than the paused socket holds, and than the 2 MiB history keeps.
    const value = Buffer.alloc(60 * 1024, 's');
    const acked: string[] = [];
    for (let i = 0; i < 300; i++) acked.push(await client(1 + (i % 3)).put(`slow/${i % 7}`, value));
    sse.response.resume();
    await sse.until(() => sse.ended);
    const changes = sse.events.slice(1, -1);
    expect(sse.events.at(-1)).toMatchObject({ event: 'error' });
    expect(JSON.parse(sse.events.at(-1)!.data)).toMatchObject({ error: 'Compacted' });
    // What it got is exactly the first writes, in order: a prefix of them with no gap.
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.length).toBeLessThan(acked.length);
    expect(changes.map((e) => JSON.parse(e.data).zxid as string)).toEqual(
      acked.slice(0, changes.length),
    );
  }, 120_000);
});
