import { afterEach, describe, expect, it } from 'vitest';
import { CursorGone, ZabkvClient, type WatchMessage } from '../../client/zabkv-client.js';
import type { WatchEvent } from '../../watch/watch-port.js';
import { TWO_GROUPS, startFrontend, stopFrontends } from '../http/frontend-fixture.js';

const clients: ZabkvClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  stopFrontends();
});

const put = (zxid: number, key: string): WatchEvent => ({
  zxid,
  type: 'put',
  changes: [{ key, type: 'put', value: Buffer.from(`v${zxid}`) }],
});

/** Two frontends whose (fake) Watch providers hold the same history, as two nodes would. */
async function twoNodes() {
  const nodes = [
    await startFrontend({ cluster: TWO_GROUPS }),
    await startFrontend({ cluster: TWO_GROUPS }),
  ];
  const apply = (group: number, event: WatchEvent) => {
    for (const node of nodes) node.host.watch.append(group, event);
  };
  const client = new ZabkvClient({
    nodes: nodes.map((n) => `http://127.0.0.1:${n.port}`),
    timeoutMs: 2_000,
  });
  clients.push(client);
  return { nodes, apply, client };
}

async function take<M = WatchMessage>(iterator: AsyncIterator<M>, count: number) {
  const messages: M[] = [];
  while (messages.length < count) {
    const next = await iterator.next();
    if (next.done === true) throw new Error('the watch ended');
    messages.push(next.value);
  }
  return messages;
}

describe('ZabkvClient.watch()', () => {
  it('resumes on the next node with its cursor when its node dies: every change once, in order', async () => {
    const { nodes, apply, client } = await twoNodes();
    const watch = client.watch({ prefix: 'a/' });
    const [start] = await take(watch, 1);
    expect(start).toEqual({ type: 'progress', cursor: 't7;0=0,1=0' });
    apply(0, put(1, 'a/1'));
    apply(1, put(2, 'a/2'));
    const before = await take(watch, 2);
    // Which node serves the stream: the one with a poll waiting for it.
    const serving = nodes.findIndex((n) => n.host.watch.waiting.length > 0);
    expect(serving).toBeGreaterThanOrEqual(0);
    // The node dies: its connections are cut, nothing is answered any more.
    nodes[serving]!.app.server.closeAllConnections();
    nodes[serving]!.host.kill();
    apply(0, put(3, 'a/3'));
    apply(1, put(4, 'a/4'));
    apply(0, put(5, 'a/5'));
    const after = await take(watch, 3);
    const zxids = [...before, ...after].map((m) => ('zxid' in m ? m.zxid : m.type));
    expect(zxids.slice().sort()).toEqual(['1', '2', '3', '4', '5']);
    // Per group in order; the last cursor names both groups' last changes.
    expect(after.at(-1)!.cursor).toBe('t7;0=5,1=4');
    const other = nodes[1 - serving]!.host.watch;
    expect(other.polls.some((p) => p.after === 1 && p.group === 0)).toBe(true);
    await watch.return(undefined);
  });

  it('starts from a given cursor, and throws CursorGone when the history after it is compacted', async () => {
    const { nodes, apply, client } = await twoNodes();
    for (const zxid of [1, 2, 3]) apply(0, put(zxid, 'a/x'));
    const from = client.watch({ prefix: 'a/', from: 't7;0=2,1=0' });
    const [third] = await take(from, 1);
    expect(third).toMatchObject({
      type: 'put',
      group: 0,
      zxid: '3',
      changes: [{ key: 'a/x', type: 'put', version: '3', value: 'v3' }],
      cursor: 't7;0=3,1=0',
    });
    await from.return(undefined);
    for (const node of nodes) node.host.watch.compact(0, 3);
    const gone = client.watch({ prefix: 'a/', from: 't7;0=2,1=0' });
    await expect(gone.next()).rejects.toBeInstanceOf(CursorGone);
  });

  it('ends when its client is closed, or its signal aborted, mid-stream', async () => {
    const { client } = await twoNodes();
    const stop = new AbortController();
    const aborted = client.watch({ key: 'k', signal: stop.signal });
    await take(aborted, 1);
    const ending = aborted.next();
    stop.abort();
    expect((await ending).done).toBe(true);
    const closing = client.watch({ key: 'k' });
    await take(closing, 1);
    const ended = closing.next();
    await client.close();
    expect((await ended).done).toBe(true);
  });

  it('listAndWatch() sends the keys, then synced, then the changes after them', async () => {
    const { nodes, client } = await twoNodes();
    const app = nodes[0]!.app;
    await app.inject({ method: 'PUT', url: '/kv/a%2F1', payload: 'one' });
    const watch = client.listAndWatch({ prefix: 'a/' });
    const first = await take(watch, 2);
    // Only node 1 was written: the client tried it first (round-robin from the first node).
    expect(first).toEqual([
      { type: 'item', key: 'a/1', version: '1', value: 'one' },
      { type: 'synced', cursor: 't7;0=1,1=1' },
    ]);
    await app.inject({ method: 'PUT', url: '/kv/a%2F2', payload: 'two' });
    const [change] = await take(watch, 1);
    expect(change).toMatchObject({ type: 'put', zxid: '2', changes: [{ key: 'a/2' }] });
    await watch.return(undefined);
  });

  it('moves on from a node that answers 503 (unavailable group history) to one that serves', async () => {
    const { nodes, client } = await twoNodes();
    nodes[0]!.host.watch.unavailable.add(0);
    nodes[0]!.host.watch.unavailable.add(1);
    const watch = client.watch({ key: 'k' });
    const [start] = await take(watch, 1);
    expect(start!.type).toBe('progress');
    await watch.return(undefined);
  });
});
