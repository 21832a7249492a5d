import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpUrl, type LocalCluster } from '../../client/local-cluster.js';
import { ZabkvClient, type TxnRequestOp } from '../../client/zabkv-client.js';
import { call, runCli, startedCluster, testDirectory } from './node-processes.js';

// Issue 12, "Done when": a listing over 10,000 keys in three groups pages through every key
// exactly once. Three nodes, one replica each: three groups, so two of every page's three parts
// cross the peer network. The keys are loaded as 100 transactions of 100 puts, each under its
// own hash tag (one group per transaction), which spreads them over the groups.

const KEYS = 10_000;
const PER_TXN = 100;
const dir = testDirectory('zabkv-list-');
let cluster: LocalCluster;
let client: ZabkvClient;
const key = (batch: number, i: number) =>
  `list/{b${String(batch).padStart(3, '0')}}/${String(i).padStart(3, '0')}`;
/** Every key loaded → its version (the zxid of its transaction). */
const loaded = new Map<string, string>();

beforeAll(async () => {
  cluster = await startedCluster(dir, { replication: 1 });
  const nodes = [1, 2, 3].map((n) => httpUrl(cluster.options, n));
  client = new ZabkvClient({ nodes, timeoutMs: 10_000 });
  const batches = Array.from({ length: KEYS / PER_TXN }, (_, b) => b);
  // Ten transactions at a time.
  for (let start = 0; start < batches.length; start += 10) {
    await Promise.all(
      batches.slice(start, start + 10).map(async (b) => {
        const success: TxnRequestOp[] = Array.from({ length: PER_TXN }, (_, i) => ({
          put: { key: key(b, i), value: `v${b}.${i}` },
        }));
        const answer = await client.txn({ success });
        expect(answer.succeeded).toBe(true);
        for (let i = 0; i < PER_TXN; i++) loaded.set(key(b, i), answer.version);
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await client.close();
  await cluster.stop();
}, 60_000);

describe('listing 10,000 keys in three groups', () => {
  it('pages through every key exactly once, in key order, from any node', async () => {
    const seen: string[] = [];
    const groupsRead = new Set<string>();
    let pages = 0;
    for await (const page of client.listPages('list/', { limit: 777 })) {
      pages++;
      expect(page.items.length).toBeLessThanOrEqual(777);
      for (const g of page.revision.split(';')[1]!.split(',')) groupsRead.add(g.split('=')[0]!);
      for (const item of page.items) {
        expect(item.version, item.key).toBe(loaded.get(item.key));
        expect(item.value).toMatch(/^v\d+\.\d+$/);
        seen.push(item.key);
      }
    }
    expect(groupsRead).toEqual(new Set(['0', '1', '2']));
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(KEYS / 777));
    expect(seen).toHaveLength(KEYS);
    expect(new Set(seen).size).toBe(KEYS);
    expect(seen).toEqual([...loaded.keys()].sort()); // ASCII keys: UTF-8 order is code order
  });

  it('streams the same keys as NDJSON, and `zabkv ls` prints them', async () => {
    const response = await call(
      `${httpUrl(cluster.options, 2)}/kv?prefix=list%2F&keysOnly=1&format=ndjson`,
    );
    expect(response.status).toBe(200);
    const lines = response.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key?: string; done?: boolean });
    expect(lines.at(-1)).toMatchObject({ done: true });
    expect(lines.slice(0, -1).map((l) => l.key)).toEqual([...loaded.keys()].sort());

    const endpoints = httpUrl(cluster.options, 3);
    const ls = await runCli(['ls', 'list/{b042}/', '--endpoints', endpoints]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.trimEnd().split('\n')).toEqual(
      Array.from({ length: PER_TXN }, (_, i) => key(42, i)),
    );
  });

  it('deletes the prefix in batches and answers how many', async () => {
    expect(await client.deletePrefix('list/')).toBe(KEYS);
    const left = [];
    for await (const item of client.list('list/', { keysOnly: true })) left.push(item);
    expect(left).toEqual([]);
  });
});
