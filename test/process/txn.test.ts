import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpUrl, type LocalCluster } from '../../client/local-cluster.js';
import { call, startedCluster, testDirectory } from './node-processes.js';

// Issue 12, "Done when": a transaction that fails its compare changes nothing. Three nodes,
// one group of three replicas: the transaction is logged and applied on every replica, and
// every replica must still hold exactly what it held before.

const dir = testDirectory('zabkv-txn-');
let cluster: LocalCluster;
const url = (node: number, path: string) => `${httpUrl(cluster.options, node)}${path}`;

beforeAll(async () => {
  cluster = await startedCluster(dir);
}, 90_000);

afterAll(() => cluster.stop(), 60_000);

/** What a node holds under `txn/`, read linearizably: key → version and value. */
async function contents(node: number): Promise<unknown> {
  const page = await call(url(node, '/kv?prefix=txn%2F'));
  expect(page.status, page.text).toBe(200);
  return (JSON.parse(page.text) as { items: unknown[] }).items;
}

async function post(node: number, body: unknown) {
  const answer = await call(url(node, '/txn'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(answer.status, answer.text).toBe(200);
  return JSON.parse(answer.text) as {
    succeeded: boolean;
    version: string;
    results: Record<string, { key: string; version?: string; value?: string }>[];
  };
}

describe('a transaction whose compare fails, on a 3-node cluster', () => {
  it('runs its failure branch only and changes nothing on any replica', async () => {
    const versions: Record<string, string> = {};
    for (const key of ['a', 'b']) {
      const put = await call(url(1, `/kv/txn%2F${key}`), { method: 'PUT', body: `${key}1` });
      expect(put.status, put.text).toBe(200);
      versions[key] = (JSON.parse(put.text) as { version: string }).version;
    }
    const before = await contents(1);
    expect(before).toHaveLength(2);

    // b is at its version, a is not at "1" and is not absent: each compare set fails.
    const writes = [
      { put: { key: 'txn/a', value: 'changed' } },
      { delete: { key: 'txn/b' } },
      { put: { key: 'txn/c', value: 'new' } },
    ];
    for (const [node, compare] of [
      [
        2,
        [
          { key: 'txn/b', version: versions['b'] },
          { key: 'txn/a', version: '1' },
        ],
      ],
      [3, [{ key: 'txn/a', version: '0' }]],
    ] as const) {
      const answer = await post(node, {
        compare,
        success: writes,
        failure: [{ get: { key: 'txn/a' } }],
      });
      expect(answer.succeeded).toBe(false);
      expect(answer.results).toEqual([
        { get: { key: 'txn/a', version: versions['a'], value: 'a1' } },
      ]);
      // It was logged: its zxid is past both puts.
      expect(BigInt(answer.version)).toBeGreaterThan(BigInt(versions['b']!));
    }

    // A write after it, so every replica has applied past the transactions.
    const after = await call(url(3, '/kv/other'), { method: 'PUT', body: 'x' });
    expect(after.status, after.text).toBe(200);
    for (const node of [1, 2, 3]) {
      expect(await contents(node), `node ${node}`).toEqual(before);
      const stale = await call(url(node, '/kv/txn%2Fc?consistency=stale'));
      expect(stale.status, `node ${node}`).toBe(404);
    }
  });
});
