import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { ZabkvClient } from '../../client/zabkv-client.js';
import { CLI, clusterPorts, testDirectory, until } from './node-processes.js';

// A node whose whole data directory is wiped (its lookup table with it) gets the table again
// from the bootstrap node (the bootstrap node from a member), not as a founding member: it starts a non-voter and syncs before it
// counts. It came back a voter with an empty log, so it and a lagging node could have formed a
// quorum that lacked an acknowledged write (ZOOKEEPER-261).
const dataDir = testDirectory('zabkv-wiped-');
const cluster = new LocalCluster({
  nodes: 3,
  replication: 3,
  dataDir,
  ...(await clusterPorts(3)),
  cli: CLI,
  env: { LOG_LEVEL: 'info' },
});

/** The log lines of `node` with message `msg`, parsed, from `from` bytes on. */
function logLines(node: number, msg: string, from = 0): Record<string, unknown>[] {
  const text = readFileSync(cluster.logPath(node)).subarray(from).toString();
  return text
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  cluster.start();
  await cluster.ready();
}, 60_000);

afterAll(() => cluster.stop(), 30_000);

describe('a node with its whole data directory wiped', () => {
  it('gets the table again as no founding member, starts a non-voter, and syncs what it missed', async () => {
    expect(logLines(3, 'lookup table known').map((line) => line['founding'])).toEqual([true]);
    const client = new ZabkvClient({ nodes: [httpUrl(cluster.options, 1)], timeoutMs: 5_000 });
    await client.put('before-wipe', 'v1');
    await cluster.kill(3);
    rmSync(join(dataDir, 'node-3'), { recursive: true, force: true });
    const from = readFileSync(cluster.logPath(3)).length;
    cluster.startNode(3);
    const loaded = await until('node 3 loaded', async () => logLines(3, 'loaded', from)[0]);
    expect(loaded['voter']).toBe(false);
    expect(logLines(3, 'lookup table known', from).map((line) => line['founding'])).toEqual([
      false,
    ]);
    // It syncs from its group, and serves what was written before the wipe.
    const own = new ZabkvClient({ nodes: [httpUrl(cluster.options, 3)], timeoutMs: 5_000 });
    const value = await until('node 3 serves the key', async () => {
      try {
        return (await own.get('before-wipe')).value.toString();
      } catch {
        return undefined;
      }
    });
    expect(value).toBe('v1');
  }, 60_000);

  it('the bootstrap node too: it takes the table a member tells it (nobody checks in again)', async () => {
    const client = new ZabkvClient({ nodes: [httpUrl(cluster.options, 2)], timeoutMs: 5_000 });
    await client.put('before-bootstrap-wipe', 'v2');
    await cluster.kill(1);
    rmSync(join(dataDir, 'node-1'), { recursive: true, force: true });
    const from = readFileSync(cluster.logPath(1)).length;
    cluster.startNode(1);
    // It waited for --cluster-size check-ins for ever.
    const loaded = await until('node 1 loaded', async () => logLines(1, 'loaded', from)[0]);
    expect(loaded['voter']).toBe(false);
    expect(logLines(1, 'lookup table known', from).map((line) => line['founding'])).toEqual([
      false,
    ]);
    expect(logLines(1, 'cluster formed', from)).toEqual([]);
    const own = new ZabkvClient({ nodes: [httpUrl(cluster.options, 1)], timeoutMs: 5_000 });
    const value = await until('node 1 serves the key', async () => {
      try {
        return (await own.get('before-bootstrap-wipe')).value.toString();
      } catch {
        return undefined;
      }
    });
    expect(value).toBe('v2');
  }, 60_000);
});
