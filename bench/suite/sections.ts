// The suite's sections of BENCHMARKS.md, one per part, so that `--only <part>` rewrites
// exactly the section of the part it ran and leaves the others as they were.
import { cpus } from 'node:os';
import { median, writeBenchmarkSection } from '../report.js';
import { TRIVIAL } from './ceiling.js';
import { GROUP_CLIENTS, GROUP_WORKLOADS, ONE_GROUP, TWO_GROUPS } from './groups.js';
import {
  KEYS,
  SYSTEM_WARMUP_SEC,
  VALUE_SIZE,
  WARMUP_SEC,
  opsPerSec,
  summarize,
} from './measure.js';
import type { Cell, Cells, Settings } from './measure.js';
import { stalePlots, systemsPlots } from './plots.js';
import { PLOT_CLIENTS } from './side-by-side.js';

const TABLE_HEAD = [
  '| workload | clients | system | ops/s | p50 ms | p99 ms | errors |',
  '| --- | --- | --- | --- | --- | --- | --- |',
];

function row(cell: Cell): string {
  const s = summarize(cell.results);
  return `| ${cell.workload} | ${cell.clients} | ${cell.system} | ${opsPerSec(s.throughput)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.errors} |`;
}

function load(settings: Settings): string {
  return (
    `${KEYS.toLocaleString('en-US')} keys, ${VALUE_SIZE}-byte values, ${settings.durationSec} s per ` +
    `measurement after ${WARMUP_SEC} s of warmup, median of ${settings.repeats}; each system took ` +
    `${SYSTEM_WARMUP_SEC} s of 64 writers after its start, before its first measurement`
  );
}

export async function writeSystemsSection(cells: Cells, settings: Settings): Promise<void> {
  const plots = await systemsPlots(cells);
  writeBenchmarkSection(
    'suite',
    'zabkv, etcd and ZooKeeper side by side',
    settings.command,
    [
      'Each system a 3-node cluster on loopback on this machine, default durability (fsync on): zabkv',
      '(one group of 3, separate processes), etcd 3.4 (Debian etcd-server, v3 JSON gateway over',
      'HTTP/1.1), ZooKeeper 3.8 (Debian zookeeper, `zookeeper` npm client, at most 16 sessions). The',
      'same load generator drives all three, interleaved within each repeat. Clients = requests in',
      "flight (one connection each over HTTP). ZooKeeper's sync+read is its closest to a",
      'linearizable read (and still is not one, ZOOKEEPER-1675). The ceiling of the load generator',
      'itself is in "Load generator ceiling" below.',
      `${load(settings)}.`,
      '',
      ...TABLE_HEAD,
      ...cells.all.map(row),
      '',
      'Plots: throughput by clients (median of the repeats); latency by percentile and throughput',
      `over time at ${PLOT_CLIENTS} clients, each from the run whose throughput was the median.`,
      ...plots.flatMap((link) => ['', link]),
    ].join('\n'),
  );
}

export async function writeStaleSection(cells: Cells, settings: Settings): Promise<void> {
  const plots = await stalePlots(cells);
  writeBenchmarkSection(
    'suite-stale',
    'Stale reads side by side',
    settings.command,
    [
      'Reads each system answers from the node it reaches, without a quorum round, so they may',
      'return old values: zabkv `?consistency=stale`, etcd serializable reads, ZooKeeper plain reads',
      `(no sync). 90 % reads at ${PLOT_CLIENTS} clients on the same clusters, with the same load`,
      'generator and settings as "zabkv, etcd and ZooKeeper side by side".',
      `${load(settings)}.`,
      '',
      ...TABLE_HEAD,
      ...cells.all.map(row),
      ...plots.flatMap((link) => ['', link]),
    ].join('\n'),
  );
}

export function writeCeilingSection(cells: Cells, settings: Settings): void {
  writeBenchmarkSection(
    'suite-ceiling',
    'Load generator ceiling',
    settings.command,
    [
      `The suite's load generator against a ${TRIVIAL} that answers every request at once from`,
      'memory: the most this client drives on this machine, to tell whether a system or the client',
      "was the limit above. The server shares the benchmark's process (and thread) with the",
      'generator, so the client alone could go somewhat faster.',
      `${load(settings)}.`,
      '',
      ...TABLE_HEAD,
      ...cells.all.map(row),
    ].join('\n'),
  );
}

export function writeGroupsSection(cells: Cells, settings: Settings): void {
  const cores = cpus().length;
  const rows: string[] = [];
  const ratios: number[] = [];
  for (const workload of GROUP_WORKLOADS) {
    for (const clients of GROUP_CLIENTS) {
      const one = cells.results(ONE_GROUP, workload, clients);
      const two = cells.results(TWO_GROUPS, workload, clients);
      if (one.length === 0 || two.length === 0) continue;
      const [a, b] = [summarize(one), summarize(two)];
      ratios.push(b.throughput / a.throughput);
      rows.push(
        `| ${workload.short} | ${clients} | ${opsPerSec(a.throughput)} | ${opsPerSec(b.throughput)} | ` +
          `${(b.throughput / a.throughput).toFixed(2)} | ${a.p99.toFixed(2)} | ${b.p99.toFixed(2)} | ${a.errors} / ${b.errors} |`,
      );
    }
  }
  writeBenchmarkSection(
    'suite-groups',
    'zabkv: one group against two',
    settings.command,
    [
      'zabkv as 3 nodes in one group of 3 against 6 nodes in two groups of 3 (the key space split',
      `between them by hash range), each node its own process on loopback on this ${cores}-core`,
      'machine, fsync on. Both clusters fresh and up together, measured alternately within each',
      'repeat (which goes first swaps every repeat). Each client spreads its requests over all nodes',
      "of its cluster, so with 2 groups half of them reach a node outside their key's group and are",
      'forwarded.',
      `${load(settings)}.`,
      '',
      '| workload | clients | ops/s, 1 group | ops/s, 2 groups | 2 groups / 1 group | p99 ms, 1 group | p99 ms, 2 groups | errors (1 / 2) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      conclusion(ratios, cores),
    ].join('\n'),
  );
}

/** What a reader should take from the table: the numbers decide which way it goes. */
function conclusion(ratios: readonly number[], cores: number): string {
  if (ratios.length === 0) return '';
  const [low, high, middle] = [Math.min(...ratios), Math.max(...ratios), median(ratios)];
  const range =
    low.toFixed(2) === high.toFixed(2)
      ? `${low.toFixed(2)} ×`
      : `${low.toFixed(2)}–${high.toFixed(2)} × (median ${middle.toFixed(2)} ×)`;
  // Within ±5 % is within the run-to-run noise of these measurements.
  const verdict =
    middle < 0.95
      ? 'On one machine the cost wins: one group does more with the same cores.'
      : middle > 1.05
        ? 'Even on one machine the gain wins, without any more cores.'
        : 'On one machine the two roughly cancel out.';
  return [
    `What to conclude: 2 groups reach ${range} the throughput of 1 group.`,
    `All 6 processes share this machine's ${cores} cores, so partitioning adds no CPU and cannot`,
    'double throughput here; this measures its cost (twice the processes on the same cores, one',
    "more hop for requests that reach a node outside their key's group) against its gain (two",
    'leaders ordering and fsyncing writes in parallel).',
    verdict,
    'The scaling that partitioning is for needs each group on machines of its own, which one',
    'machine cannot show.',
  ].join('\n');
}
