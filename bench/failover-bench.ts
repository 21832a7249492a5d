// Failover: steady writes to a 3-replica zabkv group (separate processes, fsync on), kill -9
// of the leader, and then: how long until a write issued after the kill is acknowledged (the
// unavailability window), and whether any acknowledged write was lost (must be 0).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import { Indeterminate, Unavailable, ZabkvClient } from '../client/zabkv-client.js';
import { median, writeBenchmarkSection } from './report.js';

interface Run {
  readonly windowMs: number;
  readonly acknowledged: number;
  readonly lost: number;
  /** Acknowledged writes per 100 ms, from 1 s before the kill to 3 s after. */
  readonly timeline: number[];
}

async function leaderOf(client: ZabkvClient): Promise<number> {
  for (;;) {
    const status = (await client.cluster()) as { groups: { leader: number | null }[] };
    const leader = status.groups[0]?.leader;
    if (typeof leader === 'number') return leader;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function once(run: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-failover-'));
  const cluster = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: dir,
    firstHttpPort: 29_001 + run * 10,
    firstPeerPort: 29_501 + run * 10,
    env: { LOG_LEVEL: 'warn' },
  });
  cluster.start();
  await cluster.ready(60_000);
  const urls = [1, 2, 3].map((n) => httpUrl(cluster.options, n));
  const leader = await leaderOf(new ZabkvClient({ nodes: [urls[0]!] }));
  // Clients talk to the two nodes that survive, as clients of a real cluster would fail over.
  const survivors = urls.filter((_, i) => i + 1 !== leader);
  const acked = new Map<string, number>();
  const acks: number[] = [];
  let killAt = Infinity;
  let firstAfterKill = Infinity;
  let running = true;
  let sequence = 0;
  const writer = async (id: number) => {
    const client = new ZabkvClient({
      nodes: [survivors[id % survivors.length]!],
      attempts: 1,
      timeoutMs: 5_000,
    });
    while (running) {
      const key = `key-${(id * 7919 + sequence) % 1_000}`;
      const issued = performance.now();
      try {
        const version = Number(await client.put(key, `w${id}-${sequence++}`));
        const now = performance.now();
        acks.push(now);
        acked.set(key, Math.max(acked.get(key) ?? 0, version));
        if (issued > killAt && now < firstAfterKill) firstAfterKill = now;
      } catch (error) {
        if (!(error instanceof Unavailable || error instanceof Indeterminate)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await client.close();
  };
  const writers = Array.from({ length: 16 }, (_, i) => writer(i));
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  killAt = performance.now();
  cluster.process(leader)!.kill('SIGKILL');
  while (performance.now() - killAt < 4_000)
    await new Promise((resolve) => setTimeout(resolve, 50));
  running = false;
  await Promise.all(writers);
  const reader = new ZabkvClient({ nodes: survivors, attempts: 5 });
  let lost = 0;
  for (const [key, version] of acked) {
    if (Number((await reader.get(key)).version) < version) lost++;
  }
  await reader.close();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
  const timeline = Array.from({ length: 40 }, (_, i) => {
    const from = killAt - 1_000 + i * 100;
    return acks.filter((t) => t >= from && t < from + 100).length;
  });
  return { windowMs: firstAfterKill - killAt, acknowledged: acked.size, lost, timeline };
}

const runs: Run[] = [];
for (let i = 0; i < 3; i++) {
  runs.push(await once(i));
  console.log(
    `run ${i + 1}: window ${runs.at(-1)!.windowMs.toFixed(0)} ms, lost ${runs.at(-1)!.lost}`,
  );
}
const middle = [...runs].sort((a, b) => a.windowMs - b.windowMs)[1]!;
const bars = ' ▁▂▃▄▅▆▇█';
const peak = Math.max(...middle.timeline, 1);
const sparkline = middle.timeline.map((n) => bars[Math.round((n / peak) * 8)]).join('');
writeBenchmarkSection(
  'failover',
  'Failover: kill -9 of a group leader under steady writes',
  'npm run bench:failover',
  [
    'zabkv, one group of 3 replicas as separate processes on loopback (fsync on, default timing:',
    'tick 100 ms, syncLimit 5 ticks), 16 closed-loop writers on the two surviving nodes. Window =',
    'kill → the first acknowledged write that was issued after the kill. Lost = keys whose final',
    'version is below a version that was acknowledged. 3 runs.',
    '',
    `| run | window (ms) | acknowledged keys | lost |`,
    `| --- | --- | --- | --- |`,
    ...runs.map(
      (r, i) => `| ${i + 1} | ${r.windowMs.toFixed(0)} | ${r.acknowledged} | ${r.lost} |`,
    ),
    '',
    `Median window: ${median(runs.map((r) => r.windowMs)).toFixed(0)} ms. Acknowledged writes per 100 ms`,
    `around the kill (median run; the kill is at the 11th bar): \`${sparkline}\``,
  ].join('\n'),
);
