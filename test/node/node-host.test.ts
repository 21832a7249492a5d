import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ClusterStatus } from '../../frontend/cluster-status.js';
import { keyHash } from '../../bootstrap/lookup-table.js';
import { startOneNode } from './one-node.js';

const dataDir = mkdtempSync(join(tmpdir(), 'zabkv-host-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('NodeHost, one node in one process', () => {
  it('forms a cluster of one, reports it on /readyz, /cluster and /metrics, and shuts down', async () => {
    const host = await startOneNode({ clusterId: 'host-test', dataDir });
    const app = host.frontend.server;
    await vi.waitFor(
      async () => expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200),
      { timeout: 20_000, interval: 50 },
    );
    expect((await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' })).statusCode).toBe(200);

    const cluster = (await app.inject({ url: '/cluster' })).json<ClusterStatus>();
    expect(cluster).toMatchObject({ formed: true, node: 1, version: 1 });
    expect(cluster.formed && cluster.groups).toEqual([
      expect.objectContaining({ id: 0, leader: 1, role: 'leading', followers: [] }),
    ]);
    expect((await app.inject({ url: '/cluster?key=%7Bu%7D%2Fcart' })).json()).toEqual({
      key: '{u}/cart',
      tag: 'u',
      hash: keyHash('u'),
      group: 0,
      tableVersion: 1,
    });
    await vi.waitFor(async () => {
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/^zabkv_is_leader 1$/m);
      expect(metrics).toMatch(/^zabkv_has_leader 1$/m);
      expect(metrics).toMatch(/^zabkv_proposals_committed_total [1-9]/m);
    });

    await host.shutdown(1_000);
    expect(host.lifecycle).toBe('destroyed');
  });
});
