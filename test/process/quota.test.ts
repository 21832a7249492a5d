import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpUrl, type LocalCluster } from '../../client/local-cluster.js';
import {
  Indeterminate,
  QuotaExceeded,
  Unavailable,
  ZabkvClient,
} from '../../client/zabkv-client.js';
import { call, startedCluster, testDirectory, until } from './node-processes.js';

// A group with a small quota on real processes (issue 11, item 4; etcd's TestV3StorageQuota):
// writes that would grow the data past it get 507 and did not happen, a delete makes room,
// and no acknowledged write is lost, also across a change of leader.

const QUOTA = 64 * 1024;
const VALUE = Buffer.alloc(10 * 1024, 'q');

const dir = testDirectory('zabkv-quota-');
let cluster: LocalCluster;
const clients = new Map<number, ZabkvClient>();
const client = (node: number) => {
  let c = clients.get(node);
  if (c === undefined) {
    c = new ZabkvClient({ nodes: [httpUrl(cluster.options, node)], timeoutMs: 5_000 });
    clients.set(node, c);
  }
  return c;
};
/** Every acknowledged write still standing: key → version. */
const acknowledged = new Map<string, string>();

async function cluster0(node: number): Promise<{ leader: number | null; dbBytes?: number }> {
  const status = (await client(node).cluster()) as {
    groups: { leader: number | null; dbBytes?: number; quotaBytes?: number }[];
  };
  return status.groups[0]!;
}

async function expectAllAcknowledged(node: number): Promise<void> {
  for (const [key, version] of acknowledged) {
    expect((await client(node).get(key)).version, key).toBe(version);
  }
}

beforeAll(async () => {
  cluster = await startedCluster(dir, { env: { ZABKV_QUOTA_BYTES: String(QUOTA) } });
}, 90_000);

afterAll(async () => {
  await Promise.all([...clients.values()].map((c) => c.close()));
  await cluster.stop();
}, 60_000);

describe('a group with --quota-bytes 64KiB', () => {
  it('answers 507 to a growing write, 200 to a delete and to a write after it', async () => {
    let refused: unknown = null;
    for (let i = 0; i < 20 && refused === null; i++) {
      const key = `fill-${i}`;
      try {
        acknowledged.set(key, await client((i % 3) + 1).put(key, VALUE));
      } catch (error) {
        refused = error;
      }
    }
    // 6 values of 10 KiB fit in 64 KiB, the 7th does not.
    expect(acknowledged.size).toBe(6);
    expect(refused).toBeInstanceOf(QuotaExceeded);
    expect(refused).toMatchObject({ status: 507, code: 'QuotaExceeded' });
    // Through every node (forwarded to the leader), and it did not happen.
    for (let node = 1; node <= 3; node++) {
      await expect(client(node).put(`over-${node}`, VALUE)).rejects.toBeInstanceOf(QuotaExceeded);
      await expect(client(node).get(`over-${node}`)).rejects.toMatchObject({ status: 404 });
    }
    // A delete makes room, and the alarm clears by itself.
    await client(3).del('fill-1');
    acknowledged.delete('fill-1');
    acknowledged.set('after-delete', await client(1).put('after-delete', VALUE));
    await expect(client(1).put('after-delete-2', VALUE)).rejects.toBeInstanceOf(QuotaExceeded);
    // Writes that do not grow the data still pass at the quota: an overwrite of the same size,
    // one that shrinks.
    acknowledged.set('fill-3', await client(3).put('fill-3', VALUE));
    acknowledged.set('fill-0', await client(2).put('fill-0', 'small'));
    for (let node = 1; node <= 3; node++) await expectAllAcknowledged(node);
  });

  it('shows the usage in /metrics and /cluster', async () => {
    const expected = [...acknowledged].reduce(
      (sum, [key]) => sum + key.length + (key === 'fill-0' ? 5 : VALUE.length),
      0,
    );
    for (let node = 1; node <= 3; node++) {
      const group = await until(`node ${node} to report its usage`, async () => {
        const g = (await cluster0(node)) as { dbBytes?: number; quotaBytes?: number };
        return g.dbBytes === expected ? g : undefined;
      });
      expect(group.quotaBytes).toBe(QUOTA);
      const metrics = (await call(`${httpUrl(cluster.options, node)}/metrics`)).text;
      expect(metrics).toMatch(new RegExp(`^zabkv_quota_bytes ${QUOTA}$`, 'm'));
      expect(metrics).toMatch(new RegExp(`^zabkv_db_bytes ${expected}$`, 'm'));
    }
  });

  it('a new leader after a SIGKILL keeps the quota, and no acknowledged write is lost', async () => {
    // Back at the quota: 61 493 of 65 536 bytes.
    acknowledged.set('fill-6', await client(1).put('fill-6', VALUE));
    const leader = await until('a leader', async () => (await cluster0(1)).leader ?? undefined);
    await cluster.kill(leader);
    const survivor = leader === 1 ? 2 : 1;
    await until('a new leader', async () => {
      const { leader: now } = await cluster0(survivor);
      return now !== null && now !== leader ? now : undefined;
    });
    const growing = await until('an answer from the new leader', async () => {
      try {
        await client(survivor).put('after-failover', VALUE);
        return 'accepted';
      } catch (error) {
        if (error instanceof QuotaExceeded) return 'refused';
        if (error instanceof Unavailable || error instanceof Indeterminate) return undefined;
        throw error;
      }
    });
    expect(growing).toBe('refused');
    await client(survivor).del('fill-2');
    acknowledged.delete('fill-2');
    acknowledged.set('after-failover', await client(survivor).put('after-failover', VALUE));
    cluster.startNode(leader);
    await cluster.ready(30_000);
    for (let node = 1; node <= 3; node++) {
      await until(
        `node ${node} to serve`,
        async () => (await client(node).get('after-failover')).version,
      );
      await expectAllAcknowledged(node);
    }
  }, 90_000);
});
