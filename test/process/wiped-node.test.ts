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

/**
 * Writes `key` through `writer`, kills `node`, deletes its whole data directory and starts it:
 * it must load as a non-voter with a table that is not founding, then serve `key`. Returns the
 * log offset of its new start.
 */
async function wipeAndCheck(node: number, writer: number, key: string): Promise<number> {
  const client = new ZabkvClient({ nodes: [httpUrl(cluster.options, writer)], timeoutMs: 5_000 });
  await client.put(key, `value of ${key}`);
  await cluster.kill(node);
  rmSync(join(dataDir, `node-${node}`), { recursive: true, force: true });
  const from = readFileSync(cluster.logPath(node)).length;
  cluster.startNode(node);
  const loaded = await until(`node ${node} loaded`, async () => logLines(node, 'loaded', from)[0]);
  expect(loaded['voter']).toBe(false);
  expect(logLines(node, 'lookup table known', from).map((line) => line['founding'])).toEqual([
    false,
  ]);
  // It syncs from its group, and serves what was written before the wipe.
  const own = new ZabkvClient({ nodes: [httpUrl(cluster.options, node)], timeoutMs: 5_000 });
  const value = await until(`node ${node} serves the key`, async () => {
    try {
      return (await own.get(key)).value.toString();
    } catch {
      return undefined;
    }
  });
  expect(value).toBe(`value of ${key}`);
  return from;
}

describe('a node with its whole data directory wiped', () => {
  it('gets the table again as no founding member, starts a non-voter, and syncs what it missed', async () => {
    expect(logLines(3, 'lookup table known').map((line) => line['founding'])).toEqual([true]);
    await wipeAndCheck(3, 1, 'before-wipe');
  }, 60_000);

  it('the bootstrap node too: it takes the table a member tells it (nobody checks in again)', async () => {
    // It waited for --cluster-size check-ins for ever.
    const from = await wipeAndCheck(1, 2, 'before-bootstrap-wipe');
    expect(logLines(1, 'cluster formed', from)).toEqual([]);
  }, 60_000);
});
