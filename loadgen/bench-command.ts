import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { LocalCluster, httpUrl, isReady } from '../client/local-cluster.js';
import type { ClientOptions } from '../client/zabkv-client.js';
import { allMembers, startedCluster } from './cluster-endpoints.js';
import { formatResult, runLoad, type LoadResult } from './load-generator.js';
import { EtcdTarget, ZabkvTarget, ZooKeeperTarget, type LoadTarget } from './load-target.js';

export interface BenchFlags {
  target: string;
  nodes?: string;
  clients: string;
  conns?: string;
  duration?: string;
  total?: string;
  rate?: string;
  readRatio: string;
  consistency: string;
  keySpace: string;
  keyDist: string;
  valueSize: string;
  warmup: string;
  seed: string;
  json?: boolean;
  /** The data directory of the `npm start` cluster to find (default ./data). */
  data?: string;
  /** Directory for throughput.svg and latency.svg of the run. */
  svg?: string;
  /** zabkv: the token and certificates of a secured cluster (cli.ts, --token, --cacert). */
  client?: Omit<ClientOptions, 'nodes'>;
}

const LOCAL = 'http://127.0.0.1:8001';

function number(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${flag} must be a non-negative number`);
  return value;
}

/**
 * `zabkv bench`: drives zabkv (or etcd) with the load generator and prints a summary, or JSON.
 * Without --nodes it uses the local cluster of `npm start` when one is up, else starts a
 * temporary one for the run.
 */
export async function benchCommand(flags: BenchFlags): Promise<LoadResult> {
  let temporary: { cluster: LocalCluster; dir: string } | null = null;
  let nodes = flags.nodes?.split(',').map((n) => n.trim()) ?? [];
  if (flags.target === 'zabkv') {
    // The cluster pointed at: the nodes given, else those of the `npm start` cluster (its
    // state file, or node 1's default address), widened to every member /cluster lists.
    if (nodes.length === 0) {
      nodes = startedCluster(flags.data ?? './data') ?? ((await isReady(LOCAL)) ? [LOCAL] : []);
    }
    if (nodes.length > 0) {
      nodes = await allMembers(nodes, flags.client);
      console.error(`bench: ${nodes.length} nodes: ${nodes.join(' ')}`);
    }
  }
  if (nodes.length === 0 && flags.target === 'zabkv') {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-bench-'));
    const cluster = new LocalCluster({
      nodes: 6,
      replication: 3,
      dataDir: dir,
      firstHttpPort: 28_001,
      firstPeerPort: 27_001,
      env: { LOG_LEVEL: 'warn' },
    });
    if (!flags.json)
      console.error(
        'no cluster found (--nodes, ./data/cluster.json, 127.0.0.1:8001): starting a temporary one…',
      );
    cluster.start();
    await cluster.ready(60_000);
    temporary = { cluster, dir };
    nodes = Array.from({ length: 6 }, (_, i) => httpUrl(cluster.options, i + 1));
  }
  if (nodes.length === 0) throw new Error('--nodes <url,url,…> is required for this target');
  const connections = number(flags.conns ?? flags.clients, '--conns')!;
  const target: LoadTarget =
    flags.target === 'etcd'
      ? new EtcdTarget(nodes, connections)
      : flags.target === 'zookeeper'
        ? await ZooKeeperTarget.connect(
            nodes,
            Math.min(connections, 16),
            number(flags.keySpace, '--key-space')!,
          )
        : new ZabkvTarget(nodes, connections, flags.client);
  const duration = number(flags.duration, '--duration');
  const total = number(flags.total, '--total');
  const bar =
    process.stderr.isTTY && !flags.json
      ? new SingleBar(
          { format: 'bench |{bar}| {value}/{total} {unit} | {ops} ops' },
          Presets.shades_classic,
        )
      : null;
  if (bar !== null)
    bar.start(total ?? duration ?? 10, 0, { unit: total === undefined ? 's' : 'ops', ops: 0 });
  try {
    const result = await runLoad({
      target,
      clients: number(flags.clients, '--clients')!,
      ...(total === undefined ? { durationSec: duration ?? 10 } : { total }),
      ...(flags.rate === undefined ? {} : { rate: number(flags.rate, '--rate')! }),
      readRatio: number(flags.readRatio, '--read-ratio')!,
      consistency: flags.consistency === 'stale' ? 'stale' : 'linearizable',
      keySpace: number(flags.keySpace, '--key-space')!,
      keyDistribution: flags.keyDist === 'zipf' ? 'zipf' : 'uniform',
      valueSize: number(flags.valueSize, '--value-size')!,
      warmupSec: number(flags.warmup, '--warmup')!,
      seed: number(flags.seed, '--seed')!,
      onProgress: (done, elapsed) =>
        bar?.update(
          total === undefined ? Math.min(duration ?? 10, Math.max(0, Math.floor(elapsed))) : done,
          { ops: done },
        ),
    });
    bar?.stop();
    console.log(flags.json ? JSON.stringify(result, null, 2) : formatResult(result));
    if (flags.svg !== undefined) {
      // Loaded only when asked for: vega adds ~0.2 s to the start of every CLI command.
      const { writeLoadResultSvgs } = await import('./plots/load-result-svgs.js');
      const description =
        `${flags.clients} clients, read ratio ${flags.readRatio}` +
        (flags.rate === undefined ? '' : `, ${flags.rate} ops/s offered`);
      const paths = await writeLoadResultSvgs(flags.svg, result, description);
      // With --json, stdout is the JSON alone.
      for (const path of paths) (flags.json ? console.error : console.log)(`wrote ${path}`);
    }
    return result;
  } finally {
    bar?.stop();
    await target.close();
    if (temporary !== null) {
      await temporary.cluster.stop();
      rmSync(temporary.dir, { recursive: true, force: true });
    }
  }
}
