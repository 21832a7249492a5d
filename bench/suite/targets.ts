// The performance targets of issue 5 checked against this run's medians, so a reader of
// BENCHMARKS.md sees at once which are met and by how much the others are missed.
import { writeBenchmarkSection } from '../report.js';
import { READS, STALE_READS, WRITES, summarize, type Cells, type Settings } from './measure.js';
// The targets are at 64 clients, where the suite also measures stale reads.
import { PLOT_CLIENTS as CLIENTS } from './side-by-side.js';

interface Check {
  readonly what: string;
  readonly measured: string;
  readonly met: boolean;
}

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const ms = (n: number): string => `${n.toFixed(2)} ms`;

function checks(systems: Cells, stale: Cells): Check[] {
  const at = (cells: Cells, system: string, workload: typeof WRITES, clients = CLIENTS) =>
    summarize(cells.results(system, workload, clients));
  const writes = {
    zabkv: at(systems, 'zabkv', WRITES),
    zookeeper: at(systems, 'zookeeper', WRITES),
    etcd: at(systems, 'etcd', WRITES),
  };
  const reads = at(systems, 'zabkv', READS).throughput;
  const syncRead = at(systems, 'zookeeper', READS).throughput;
  const plainRead = at(stale, 'zookeeper', STALE_READS).throughput;
  const one = {
    zabkv: at(systems, 'zabkv', WRITES, 1),
    zookeeper: at(systems, 'zookeeper', WRITES, 1),
  };
  return [
    {
      what: `writes at ${CLIENTS} clients: ≥ 2× ZooKeeper`,
      measured: ratio(writes.zabkv.throughput, writes.zookeeper.throughput),
      met: writes.zabkv.throughput >= 2 * writes.zookeeper.throughput,
    },
    {
      what: `writes at ${CLIENTS} clients: ≥ 3× etcd`,
      measured: ratio(writes.zabkv.throughput, writes.etcd.throughput),
      met: writes.zabkv.throughput >= 3 * writes.etcd.throughput,
    },
    {
      what: `writes at ${CLIENTS} clients: p99 below both`,
      measured: `${ms(writes.zabkv.p99)} (ZooKeeper ${ms(writes.zookeeper.p99)}, etcd ${ms(writes.etcd.p99)})`,
      met: writes.zabkv.p99 < writes.zookeeper.p99 && writes.zabkv.p99 < writes.etcd.p99,
    },
    {
      what: `90 % linearizable reads at ${CLIENTS} clients: ≥ 2× ZooKeeper sync+read`,
      measured: ratio(reads, syncRead),
      met: reads >= 2 * syncRead,
    },
    {
      what: `90 % linearizable reads at ${CLIENTS} clients: ≥ ZooKeeper plain reads`,
      measured: ratio(reads, plainRead),
      met: reads >= plainRead,
    },
    {
      what: 'one client, writes: p50 no worse than ZooKeeper',
      measured: `${ms(one.zabkv.p50)} (ZooKeeper ${ms(one.zookeeper.p50)})`,
      met: one.zabkv.p50 <= one.zookeeper.p50,
    },
  ];
}

export function writeTargetsSection(systems: Cells, stale: Cells, settings: Settings): void {
  writeBenchmarkSection(
    'suite-targets',
    'Targets (issue 5) against this run',
    settings.command,
    [
      'Medians from "zabkv, etcd and ZooKeeper side by side" and "Stale reads side by side" above.',
      'The failover target is checked by `npm run bench:failover` (section "failover").',
      '',
      '| target | zabkv measured | met |',
      '| --- | --- | --- |',
      ...checks(systems, stale).map(
        (c) => `| ${c.what} | ${c.measured} | ${c.met ? 'yes' : 'no'} |`,
      ),
    ].join('\n'),
  );
}
