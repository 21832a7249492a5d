// `npm run bench:watch`: what watchers cost writers (issue 12). Write throughput of a 6-node
// cluster (two groups of three) with 0, 100 and 1,000 idle watchers open (SSE streams on prefixes
// no write matches: etcd's slow-watcher problem, where writes must not slow by more than 10 %),
// in interleaved rounds on one cluster; then the delay from a write's acknowledgement to its event
// at a watcher, on a member of the key's group and on a node of the other group (relayed).
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import { ZabkvClient } from '../client/zabkv-client.js';
import { runLoad, type LoadResult } from '../loadgen/load-generator.js';
import { ZabkvTarget } from '../loadgen/load-target.js';
import { median, writeBenchmarkSection } from './report.js';

const NODES = 6;
const WATCHER_COUNTS = [0, 100, 1_000] as const;
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const PHASE_SEC = Number(process.env['PHASE_SEC'] ?? 10);
const WRITERS = 32;
const KEYS = 10_000;
const PROBE_WRITES = 200;
const PROBE_EVERY_MS = 50;

const dir = mkdtempSync(join(tmpdir(), 'zabkv-watch-bench-'));
const cluster = new LocalCluster({
  nodes: NODES,
  replication: 3,
  dataDir: dir,
  firstHttpPort: 28_201,
  firstPeerPort: 27_201,
  env: { LOG_LEVEL: 'warn' },
});
const urls = Array.from({ length: NODES }, (_, i) => httpUrl(cluster.options, i + 1));

/** Opens `count` SSE watches on prefixes nothing writes to, spread over the nodes. */
async function openIdleWatchers(count: number): Promise<() => void> {
  const agent = new Agent({ connections: null, bodyTimeout: 0, headersTimeout: 30_000 });
  const abort = new AbortController();
  setMaxListeners(count + 10, abort.signal);
  const opened = Array.from({ length: count }, async (_, i) => {
    const url = `${urls[i % NODES]}/watch?prefix=${encodeURIComponent(`idle/${i}/`)}`;
    const response = await request(url, {
      headers: { accept: 'text/event-stream' },
      dispatcher: agent,
      signal: abort.signal,
    });
    if (response.statusCode !== 200) throw new Error(`watch ${i}: ${response.statusCode}`);
    response.body.on('data', () => {});
    response.body.on('error', () => {});
  });
  await Promise.all(opened);
  return () => {
    abort.abort();
    void agent.destroy();
  };
}

function writeLoad(seed: number, durationSec: number): Promise<LoadResult> {
  return runLoad({
    target: new ZabkvTarget(urls, WRITERS),
    clients: WRITERS,
    durationSec,
    readRatio: 0,
    consistency: 'linearizable',
    keySpace: KEYS,
    keyDistribution: 'uniform',
    valueSize: 100,
    warmupSec: 2,
    seed,
  });
}

/** Acknowledgement-to-event delays (ms) at a watcher on `watchNode`, writes under steady load. */
async function probeDelays(watchNode: number, round: number): Promise<number[]> {
  const prefix = `lat/${watchNode}/${round}/`;
  const watcher = new ZabkvClient({ nodes: [urls[watchNode - 1]!] });
  const writer = new ZabkvClient({ nodes: urls });
  const acked = new Map<string, number>();
  const seen = new Map<string, number>();
  const abort = new AbortController();
  const watching = (async () => {
    for await (const message of watcher.watch({ prefix, signal: abort.signal })) {
      if (message.type === 'progress') continue;
      const now = performance.now();
      for (const change of message.changes) seen.set(change.key, now);
      if (seen.size === PROBE_WRITES) return;
    }
  })();
  // The stream is open once a first write's event arrives.
  await writer.put(`${prefix}warmup`, Buffer.from('x'));
  while (!seen.has(`${prefix}warmup`)) await new Promise((r) => setTimeout(r, 10));
  seen.clear();
  for (let i = 0; i < PROBE_WRITES; i++) {
    const key = `${prefix}${i}`;
    await writer.put(key, Buffer.from(String(i)));
    acked.set(key, performance.now());
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  const deadline = performance.now() + 10_000;
  while (seen.size < PROBE_WRITES && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  abort.abort();
  await watching.catch(() => {});
  await Promise.all([watcher.close(), writer.close()]);
  if (seen.size < PROBE_WRITES) throw new Error(`watcher on node ${watchNode} missed events`);
  return [...acked].map(([key, at]) => seen.get(key)! - at);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

cluster.start();
try {
  await cluster.ready(120_000);
  const load = loadavg()[0]!.toFixed(1);
  // A fresh cluster is slow for its first seconds (files, caches, JIT): not part of any phase.
  await writeLoad(1, PHASE_SEC);
  const runs = new Map<number, LoadResult[]>(WATCHER_COUNTS.map((count) => [count, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated each round, so a drift of the shared machine does not favour one count.
    const order = WATCHER_COUNTS.map(
      (_, i) => WATCHER_COUNTS[(i + round) % WATCHER_COUNTS.length]!,
    );
    for (const count of order) {
      const close = await openIdleWatchers(count);
      const result = await writeLoad(round * 10 + count, PHASE_SEC);
      close();
      runs.get(count)!.push(result);
      console.log(
        `round ${round + 1}, ${count} watchers: ${result.throughput.toFixed(0)} writes/s, p99 ${result.latency.p99.toFixed(1)} ms`,
      );
    }
  }
  // Node 1 is in group 0 and node 4 in group 1: a prefix spans both, so each watcher is a member
  // for one group's changes and relays the other's.
  const background = writeLoad(99, (PROBE_WRITES * PROBE_EVERY_MS) / 1000 + 8);
  const [member, other] = await Promise.all([probeDelays(1, 0), probeDelays(4, 0)]);
  const backgroundResult = await background;
  for (const [name, values] of [
    ['member', member],
    ['other', other],
  ] as const) {
    console.log(
      `delay at ${name}: p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms`,
    );
  }
  const base = median(runs.get(0)!.map((r) => r.throughput));
  const rows = WATCHER_COUNTS.map((count) => {
    const results = runs.get(count)!;
    const throughput = median(results.map((r) => r.throughput));
    const p50 = median(results.map((r) => r.latency.p50));
    const p99 = median(results.map((r) => r.latency.p99));
    const ratio = ((throughput / base) * 100).toFixed(1);
    return `| ${count} | ${throughput.toFixed(0)} | ${ratio} % | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${results.map((r) => r.throughput.toFixed(0)).join(', ')} |`;
  });
  const all = [...member, ...other];
  const delayRow = (name: string, values: number[]) =>
    `| ${name} | ${values.length} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 99).toFixed(1)} | ${Math.max(...values).toFixed(1)} |`;
  writeBenchmarkSection(
    'watch',
    'Watchers: what they cost writers, and how soon they hear',
    'npm run bench:watch',
    [
      `A local cluster of ${NODES} nodes (two groups of three, fsync on). Writers: ${WRITERS} closed-loop`,
      `clients putting 100-byte values on ${KEYS.toLocaleString('en')} keys through every node, ${PHASE_SEC} s per`,
      `phase after 2 s of warm-up. Idle watchers: SSE streams (\`GET /watch?prefix=idle/<i>/\`) spread`,
      'over the nodes, on prefixes no write matches, each polling both groups (so most are held',
      `at a replica of the other group). A warm-up phase first, then ${ROUNDS} interleaved rounds, the`,
      `order rotated each round; medians. Load average at the start: ${load}.`,
      '',
      '| idle watchers | writes/s | of 0 watchers | p50 (ms) | p99 (ms) | each round (writes/s) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      'Target (issue 12): with 1,000 idle watchers, writes no more than 10 % slower. A held poll',
      "is found through an index of its filter's keys and prefixes (watch/filter-index.ts): an",
      'applied change costs a few map lookups, whatever the number of watchers.',
      'Neither the history (bounded by entries and bytes) nor the index grows with the number of',
      'keys: what a watcher costs does not depend on the 10,000 keys written here.',
      '',
      `Delay from a write's acknowledgement to its event at a watcher (${PROBE_WRITES} writes, one every`,
      `${PROBE_EVERY_MS} ms, under ${backgroundResult.throughput.toFixed(0)} writes/s of background load):`,
      '',
      '| watcher | events | p50 (ms) | p99 (ms) | max (ms) |',
      '| --- | --- | --- | --- | --- |',
      delayRow('on node 1 (member of group 0, relays group 1)', member),
      delayRow('on node 4 (member of group 1, relays group 0)', other),
      delayRow('both', all),
      '',
      'A negative delay is an event that reached the watcher before the write was acknowledged to',
      'its writer: the replica applies a write at commit, the acknowledgement goes back through',
      'the node the writer called.',
    ].join('\n'),
  );
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
