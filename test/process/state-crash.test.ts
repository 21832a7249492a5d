import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import {
  Indeterminate,
  NotFound,
  PreconditionFailed,
  Unavailable,
  ZabkvClient,
} from '../../client/zabkv-client.js';
import { wipeGroupData } from '../../node/group-data.js';
import { CLI, clusterPorts, testDirectory, until } from './node-processes.js';

// Issue 14: the applied state lives in lmdb beside the log. kill -9 at any moment (between a
// log fsync and the lmdb commit, during a checkpoint, during a snapshot transfer to a wiped
// follower) must lose nothing acknowledged, apply nothing twice, and leave every replica with
// the same state. A small --snapshot-count and --checkpoint-bytes make checkpoints (copies of
// the state), compaction and SNAP happen often.
const NODES = [1, 2, 3] as const;
const COUNTERS = 4;
const dataDir = testDirectory('zabkv-state-crash-');
const cluster = new LocalCluster({
  nodes: 3,
  replication: 3,
  dataDir,
  ...(await clusterPorts(3)),
  cli: CLI,
  env: { LOG_LEVEL: 'warn', ZABKV_SNAPSHOT_COUNT: '200', ZABKV_CHECKPOINT_BYTES: '16KiB' },
});
const client = (node: number, attempts = 1): ZabkvClient =>
  new ZabkvClient({ nodes: [httpUrl(cluster.options, node)], timeoutMs: 3_000, attempts });

/** Acknowledged writes when the first test ended. */
let written = 0;
/** Every acknowledged plain write: key → value. */
const acknowledged = new Map<string, string>();
/** Per counter: increments acknowledged, and those whose outcome is unknown (504). */
const increments = Array.from({ length: COUNTERS }, () => ({ done: 0, maybe: 0 }));

async function leader(): Promise<number> {
  return until('a leader', async () => {
    const view = (await client(1, 3).cluster()) as { groups: { leader: number | null }[] };
    return view.groups[0]?.leader ?? undefined;
  });
}

/** Writes distinct keys and compare-and-set increments, through every node, until stopped. */
async function load(stop: { now: boolean }): Promise<void> {
  let i = 0;
  const writer = async (node: number): Promise<void> => {
    const c = client(node);
    while (!stop.now) {
      const key = `k-${node}-${i++}`;
      try {
        await c.put(key, key);
        acknowledged.set(key, key);
      } catch (error) {
        if (!(error instanceof Unavailable || error instanceof Indeterminate)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const incrementer = async (counter: number): Promise<void> => {
    const c = client(1 + (counter % 3));
    const key = `counter-${counter}`;
    while (!stop.now) {
      try {
        let current = 0;
        let version = '0';
        try {
          const got = await c.get(key);
          current = Number(got.value.toString());
          version = got.version;
        } catch (error) {
          if (!(error instanceof NotFound)) throw error;
        }
        const options = version === '0' ? { ifNoneMatch: '*' as const } : { ifMatch: version };
        try {
          await c.put(key, String(current + 1), options);
          increments[counter]!.done++;
        } catch (error) {
          if (error instanceof Indeterminate) increments[counter]!.maybe++;
          else if (!(error instanceof PreconditionFailed)) throw error;
        }
      } catch (error) {
        if (!(error instanceof Unavailable || error instanceof Indeterminate)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  await Promise.all([
    ...NODES.map((node) => writer(node)),
    ...Array.from({ length: COUNTERS }, (_, counter) => incrementer(counter)),
  ]);
}

/**
 * A last write through each node marks a point every replica must apply; then every
 * acknowledged write is on every replica, and the replicas agree (value and version).
 */
async function expectEqualReplicasWithEverything(markPrefix: string): Promise<void> {
  const marks = await Promise.all(
    NODES.map((node) => client(node, 10).put(`${markPrefix}-${node}`, 'm')),
  );
  for (const node of NODES) {
    await until(
      `node ${node} to apply every mark`,
      async () => {
        for (const mark of NODES) {
          try {
            await client(node).get(`${markPrefix}-${mark}`, 'stale');
          } catch {
            return undefined;
          }
        }
        return true;
      },
      60_000,
    );
  }
  expect(marks).toHaveLength(3);

  const keys = [...acknowledged.keys(), ...increments.map((_, c) => `counter-${c}`)];
  const states = await Promise.all(
    NODES.map(async (node) => {
      const c = client(node, 3);
      const state = new Map<string, string>();
      for (const key of keys) {
        try {
          const { value, version } = await c.get(key, 'stale');
          state.set(key, `${value.toString()}@${version}`);
        } catch (error) {
          if (!(error instanceof NotFound)) throw error;
        }
      }
      return state;
    }),
  );
  for (const [key, value] of acknowledged) {
    expect(states[0]!.get(key)?.split('@')[0], key).toBe(value);
  }
  expect(Object.fromEntries(states[1]!)).toEqual(Object.fromEntries(states[0]!));
  expect(Object.fromEntries(states[2]!)).toEqual(Object.fromEntries(states[0]!));
  // An increment applied twice or lost would put a counter outside what was acknowledged.
  increments.forEach(({ done, maybe }, counter) => {
    const value = Number(states[0]!.get(`counter-${counter}`)?.split('@')[0] ?? 0);
    expect(value, `counter-${counter}`).toBeGreaterThanOrEqual(done);
    expect(value, `counter-${counter}`).toBeLessThanOrEqual(done + maybe);
  });
}

describe('applied state in lmdb under kill -9', () => {
  beforeAll(async () => {
    cluster.start();
    await cluster.ready(60_000);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('loses nothing acknowledged and ends with equal replicas after crashes anywhere', async () => {
    const stop = { now: false };
    const running = load(stop);
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const grown = async (count: number) =>
      until(`${count} acknowledged writes`, async () =>
        acknowledged.size >= count ? true : undefined,
      );

    await grown(300);
    // A follower, at a random moment of its applies and checkpoints.
    const first = await leader();
    const follower = NODES.find((node) => node !== first)!;
    await cluster.restartNode(follower);
    await grown(acknowledged.size + 300);
    // The leader itself.
    await cluster.restartNode(await leader());
    await grown(acknowledged.size + 300);
    // A follower whose data is wiped (SNAP from the leader), killed again while it syncs, then left to finish.
    const current = await leader();
    const wiped = NODES.find((node) => node !== current)!;
    await cluster.kill(wiped);
    // Its group's log and applied state go; the lookup table stays (membership is fixed).
    wipeGroupData(join(dataDir, `node-${wiped}`), 0);
    // (The bootstrap node keeps the check-ins the cluster formed with, formation.json, too.)
    const left = readdirSync(join(dataDir, `node-${wiped}`)).filter((f) => f !== 'formation.json');
    expect(left.sort()).toEqual(['LOCK', 'lookup-table.json']);
    await grown(acknowledged.size + 300);
    cluster.startNode(wiped);
    await pause(300);
    await cluster.restartNode(wiped);
    await grown(acknowledged.size + 300);
    stop.now = true;
    await running;

    await expectEqualReplicasWithEverything('mark');
    written = acknowledged.size;
    for (const node of NODES) expect(cluster.process(node)?.exitCode ?? null).toBeNull();
  }, 240_000);

  // lmdb commits without fsync: a power loss may tear its file, and each node then puts back
  // its last checkpoint copy (older than its log's tip) and replays the log from there. A real
  // power loss cannot be had here; the marker each node leaves while it runs can say another
  // boot, which is what a start after one finds.
  it('after every node loses power at once, each restores its checkpoint copy and loses nothing', async () => {
    const stateDir = (node: number): string => join(dataDir, `node-${node}`, 'state');
    for (const node of NODES) {
      await until(`node ${node}'s checkpoint copy`, async () =>
        existsSync(join(stateDir(node), 'checkpoint.mdb')) ? true : undefined,
      );
    }
    const stop = { now: false };
    const running = load(stop);
    await until('writes after the copies', async () =>
      acknowledged.size >= written + 300 ? true : undefined,
    );
    await Promise.all(NODES.map((node) => cluster.kill(node)));
    stop.now = true;
    await running;
    for (const node of NODES) writeFileSync(join(stateDir(node), 'unsynced'), 'another-boot');
    for (const node of NODES) cluster.startNode(node);
    await cluster.ready(60_000);
    for (const node of NODES) {
      expect(readFileSync(cluster.logPath(node), 'utf8')).toMatch(
        /"recovery":"restored".*lost commits to a power loss/,
      );
    }
    await expectEqualReplicasWithEverything('after-power-loss');
    for (const node of NODES) expect(cluster.process(node)?.exitCode ?? null).toBeNull();
  }, 180_000);
});
