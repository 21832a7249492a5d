import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import type { Command, CommanderError } from 'commander';
import type { BenchFlags } from '../loadgen/bench-command.js';
import type { RawNodeSettings } from '../node/node-config.js';
import {
  WRITE_OUT,
  endpoints,
  endpointsOf,
  fraction,
  nonNegativeInteger,
  port,
  positiveInteger,
  positiveNumber,
  seconds,
} from './flags.js';
import { failure, unexpectedFailure } from './failure.js';
import type { ConnectionFlags } from './kv-commands.js';

// The whole zabkv command, for every invocation cli/fast-path.ts does not take. Commands load
// what they use when they run: `zabkv status` must not pay for the node host, the simulator,
// the plotting libraries, or even undici (it uses node:http; cli/kv-commands.ts).

// Commander through require: its CommonJS loads ~7 ms faster than its ESM wrapper of it.
const { Command: CommandClass, Option } = createRequire(import.meta.url)(
  'commander',
) as typeof Commander;

/** The version in package.json (two levels up from dist/cli/program.js, one from cli/program.ts). */
function packageVersion(): string {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const text = readFileSync(new URL(path, import.meta.url), 'utf8');
      const { name, version } = JSON.parse(text) as { name?: string; version?: string };
      if (name === 'zabkv' && version !== undefined) return version;
    } catch {
      // not there: the other layout
    }
  }
  return 'unknown';
}

/** Exit codes: 0 ok (help and --version too), 1 the operation failed, 2 a usage error. */
const USAGE = 2;

const program = new CommandClass()
  .name('zabkv')
  .description('A partitioned, linearizable key-value store replicated with ZAB')
  .version(packageVersion(), '--version', 'print the version')
  .showSuggestionAfterError(true)
  // One line per error: "unknown command 'stauts' (Did you mean status?)".
  .configureOutput({
    outputError: (text, write) => write(`${text.trimEnd().replace(/\n+/g, ' ')}\n`),
  })
  // Every commander error (unknown command or flag, a flag that does not parse) is a usage
  // error: one line and exit 2. Help and --version exit 0.
  .exitOverride((error: CommanderError) => {
    const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'];
    process.exit(ok.includes(error.code) ? 0 : error.exitCode === 1 ? USAGE : error.exitCode);
  });

/** One line, exit 2: what was given cannot work. */
/** A repeatable option's values, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function usageError(message: string): never {
  return program.error(`error: ${message}`, { exitCode: USAGE });
}

program
  .command('start')
  .description('start a local cluster (separate processes on loopback); Ctrl-C stops it')
  .addOption(new Option('--nodes <n>', 'nodes').argParser(positiveInteger).default(6))
  .addOption(
    new Option('--replication <n>', 'replicas per group').argParser(positiveInteger).default(3),
  )
  .option('--data <dir>', 'data directory (reused on the next start)', './data')
  .addOption(
    new Option('--http-port <n>', 'HTTP port of node 1 (node n: + n - 1)')
      .argParser(port)
      .default(8001),
  )
  .addOption(
    new Option('--peer-port <n>', 'peer port of node 1 (node n: + n - 1)')
      .argParser(port)
      .default(7001),
  )
  .addOption(new Option('--storage <kind>', 'the log store (default wal)').choices(['wal', 'lmdb']))
  .option('--profile <dir>', 'write a CPU profile of each node to <dir> when it stops')
  .option('--tls', 'mutual TLS between the nodes (certificates made in <data>/tls if missing)')
  .option(
    '--restart-failed',
    'restart a node that exits (after a second), instead of reporting only',
  )
  .action(async (options: Record<string, string | number | boolean>) => {
    if (Number(options['replication']) > Number(options['nodes'])) {
      usageError(`--replication ${options['replication']} needs at least as many --nodes`);
    }
    const { startCommand } = await import('./start-command.js');
    const data = String(options['data']);
    const profile = options['profile'];
    await startCommand(
      {
        nodes: Number(options['nodes']),
        replication: Number(options['replication']),
        dataDir: data,
        firstHttpPort: Number(options['httpPort']),
        firstPeerPort: Number(options['peerPort']),
        env: options['storage'] === undefined ? {} : { ZABKV_STORAGE: String(options['storage']) },
        nodeFlags: profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${String(profile)}`],
        ...(options['tls'] === undefined ? {} : { tlsDir: `${data}/tls` }),
      },
      { restartFailed: options['restartFailed'] === true },
    );
  });

/** The options every client command takes. */
function withConnectionOptions(command: Command, writeOut: 'simple' | 'table'): Command {
  return command
    .addOption(
      new Option(
        '--endpoints <list>',
        'nodes to try in order, host:port or URLs, comma-separated (default: $ZABKV_ENDPOINTS, else the `npm start` cluster in ./data, else 127.0.0.1:8001)',
      ).argParser(endpoints),
    )
    .addOption(new Option('--url <url>', 'the same as --endpoints').argParser(endpoints).hideHelp())
    .addOption(
      new Option('-w, --write-out <format>', 'output format').choices(WRITE_OUT).default(writeOut),
    )
    .option('--token <token>', 'bearer token (default: $ZABKV_TOKEN, which ps does not show)')
    .option('--cacert <file>', "PEM CA of the nodes' HTTPS certificates (default: $ZABKV_CACERT)")
    .option('--cert <file>', 'PEM client certificate, for nodes with --client-cert-auth')
    .option('--key <file>', 'PEM key of --cert');
}

/** The connection flags of a client command, --endpoints resolved (flag, old --url, env). */
function connectionFlags(command: Command): ConnectionFlags {
  const {
    url,
    endpoints: given,
    ...rest
  } = command.opts<Omit<ConnectionFlags, 'endpoints'> & { url?: string[]; endpoints?: string[] }>();
  try {
    return { ...rest, endpoints: endpointsOf(given ?? url) };
  } catch (error) {
    return usageError((error as Error).message);
  }
}

withConnectionOptions(
  program.command('get <key>').description('print the value of a key (its version on stderr)'),
  'simple',
)
  .option('--stale', 'read the local replica (may lag)')
  .action(async (key: string, _options: unknown, command: Command) => {
    const { get, runClientCommand } = await import('./kv-commands.js');
    const flags = { ...connectionFlags(command), stale: command.opts()['stale'] === true };
    await runClientCommand(() => get(key, flags));
  });

withConnectionOptions(
  program
    .command('put <key> <value>')
    .description('set a key (value - reads standard input); prints the new version'),
  'simple',
)
  .option('--if-match <version>', 'only if the current version is this (or *)')
  .option('--if-absent', 'only if the key has no value')
  .action(async (key: string, value: string, _options: unknown, command: Command) => {
    const { put, runClientCommand } = await import('./kv-commands.js');
    const { ifMatch, ifAbsent } = command.opts<{ ifMatch?: string; ifAbsent?: boolean }>();
    const flags = {
      ...connectionFlags(command),
      ...(ifMatch === undefined ? {} : { ifMatch }),
      ...(ifAbsent === undefined ? {} : { ifAbsent }),
    };
    await runClientCommand(() => put(key, value, flags));
  });

withConnectionOptions(program.command('del <key>').description('delete a key'), 'simple')
  .option('--if-match <version>', 'only if the current version is this (or *)')
  .action(async (key: string, _options: unknown, command: Command) => {
    const { del, runClientCommand } = await import('./kv-commands.js');
    const { ifMatch } = command.opts<{ ifMatch?: string }>();
    const flags = { ...connectionFlags(command), ...(ifMatch === undefined ? {} : { ifMatch }) };
    await runClientCommand(() => del(key, flags));
  });

withConnectionOptions(
  program
    .command('txn [file]')
    .description(
      'run a transaction in one group: the JSON of POST /txn from a file or standard input',
    ),
  'simple',
).action(async (file: string | undefined, _options: unknown, command: Command) => {
  const { txn, runClientCommand } = await import('./kv-commands.js');
  await runClientCommand(() => txn(file, connectionFlags(command)));
});

withConnectionOptions(
  program
    .command('ls [prefix]')
    .description('list the keys that start with a prefix, in key order (all keys without one)'),
  'simple',
)
  .option('--keys-only', 'leave the values out (json and table output)')
  .option('--stale', 'read the local replicas (may lag)')
  .option('--limit <n>', 'keys per page asked of the server (default 1000)')
  .action(async (prefix: string | undefined, _options: unknown, command: Command) => {
    const { ls } = await import('./list-command.js');
    const { runClientCommand } = await import('./kv-commands.js');
    const { keysOnly, stale, limit } = command.opts<{
      keysOnly?: boolean;
      stale?: boolean;
      limit?: string;
    }>();
    const flags = {
      ...connectionFlags(command),
      keysOnly: keysOnly === true,
      stale: stale === true,
      ...(limit === undefined ? {} : { limit }),
    };
    await runClientCommand(() => ls(prefix ?? '', flags));
  });

withConnectionOptions(
  program
    .command('watch [key]')
    .description(
      'print every change to a key or prefix as it is applied, until interrupted; resumes across node failures',
    ),
  'simple',
)
  .option('--prefix <prefix>', 'watch every key starting with this (repeatable)', collect)
  .option('--from <cursor>', 'resume after this cursor (printed on exit, and in -w json)')
  .option('--list', 'first print the keys as they are now, then their changes')
  .addOption(
    new Option(
      '--progress <seconds>',
      'with -w json: a progress line after this long idle',
    ).argParser(seconds),
  )
  .action(async (key: string | undefined, _options: unknown, command: Command) => {
    const { runClientCommand } = await import('./kv-commands.js');
    const { prefix, from, progress, list } = command.opts<{
      prefix?: string[];
      from?: string;
      progress?: number;
      list?: boolean;
    }>();
    if ((key === undefined) === (prefix === undefined))
      return usageError('give a key or --prefix <prefix> (not both)');
    if (list === true && from !== undefined) return usageError('--list or --from, not both');
    const { watchCommand } = await import('./watch-command.js');
    await runClientCommand(() =>
      watchCommand({
        ...connectionFlags(command),
        ...(key === undefined ? {} : { key }),
        ...(prefix === undefined ? {} : { prefix }),
        ...(from === undefined ? {} : { from }),
        ...(progress === undefined ? {} : { progress }),
        ...(list === true ? { list } : {}),
      }),
    );
  });

withConnectionOptions(
  program
    .command('where <key>')
    .description('print the group that holds a key (its hash tag and hash on stderr)'),
  'simple',
).action(async (key: string, _options: unknown, command: Command) => {
  const { where, runClientCommand } = await import('./kv-commands.js');
  await runClientCommand(() => where(key, connectionFlags(command)));
});

withConnectionOptions(
  program
    .command('status')
    .description(
      'every member of every group: role, epoch, zxids, lag; exit 1 if a group has no leader',
    ),
  'table',
).action(async (_options: unknown, command: Command) => {
  const { statusCommand } = await import('../client/status-table.js');
  const { connectionOf, runClientCommand } = await import('./kv-commands.js');
  const flags = connectionFlags(command);
  await runClientCommand(() => statusCommand({ ...connectionOf(flags), writeOut: flags.writeOut }));
});

program
  .command('bench')
  .description("load generator (like etcd's benchmark): throughput and latency percentiles")
  .addOption(
    new Option('--target <name>', 'the store to drive')
      .choices(['zabkv', 'etcd', 'zookeeper'])
      .default('zabkv'),
  )
  .addOption(
    new Option(
      '--nodes <urls>',
      'comma-separated node URLs (default: the `npm start` cluster, or a temporary one)',
    ).argParser(checked(endpoints)),
  )
  .addOption(
    new Option('--clients <n>', 'requests in flight')
      .argParser(checked(positiveInteger))
      .default('64'),
  )
  .addOption(
    new Option(
      '--conns <n>',
      'connections per node (default: --clients; HTTP/1.1 carries one write at a time)',
    ).argParser(checked(positiveInteger)),
  )
  .addOption(
    new Option('--duration <s>', 'seconds to measure (default 10)').argParser(checked(seconds)),
  )
  .addOption(
    new Option('--total <n>', 'operations to measure, instead of --duration').argParser(
      checked(positiveInteger),
    ),
  )
  .addOption(
    new Option(
      '--rate <n>',
      'open loop: operations per second (latency from the intended send time)',
    ).argParser(checked(positiveNumber)),
  )
  .addOption(
    new Option('--read-ratio <f>', 'fraction of reads').argParser(checked(fraction)).default('0'),
  )
  .addOption(
    new Option('--consistency <c>', 'reads')
      .choices(['linearizable', 'stale'])
      .default('linearizable'),
  )
  .addOption(
    new Option('--key-space <n>', 'distinct keys')
      .argParser(checked(positiveInteger))
      .default('10000'),
  )
  .addOption(
    new Option('--key-dist <d>', 'key popularity').choices(['uniform', 'zipf']).default('uniform'),
  )
  .addOption(
    new Option('--value-size <n>', 'bytes per value')
      .argParser(checked(nonNegativeInteger))
      .default('100'),
  )
  .addOption(
    new Option('--warmup <s>', 'seconds before measuring')
      .argParser(checked(nonNegativeSeconds))
      .default('1'),
  )
  .addOption(
    new Option('--seed <n>', 'seed of the key and operation choices')
      .argParser(checked(nonNegativeInteger))
      .default('1'),
  )
  .option(
    '--data <dir>',
    'without --nodes: the data directory of the `npm start` cluster',
    './data',
  )
  .option('--json', 'print the result as JSON')
  .option('--svg <dir>', 'also write <dir>/throughput.svg and <dir>/latency.svg for the run')
  .option('--token <token>', 'zabkv: bearer token (default: $ZABKV_TOKEN)')
  .option(
    '--cacert <file>',
    "zabkv: PEM CA of the nodes' HTTPS certificates (default: $ZABKV_CACERT)",
  )
  .action(async (options: BenchFlags & { token?: string; cacert?: string }) => {
    if (options.duration !== undefined && options.total !== undefined) {
      usageError('give --duration or --total, not both');
    }
    const { benchCommand } = await import('../loadgen/bench-command.js');
    const { token: flagToken, cacert: flagCacert, ...flags } = options;
    // zabkv takes host:port or URLs, as --endpoints does; etcd and ZooKeeper their own forms.
    if (flags.nodes !== undefined && flags.target === 'zabkv') {
      flags.nodes = endpoints(flags.nodes).join(',');
    }
    const token = flagToken ?? process.env['ZABKV_TOKEN'];
    const cacert = flagCacert ?? process.env['ZABKV_CACERT'];
    let ca: Buffer | undefined;
    try {
      ca = cacert === undefined || cacert === '' ? undefined : readFileSync(cacert);
    } catch (error) {
      usageError(`--cacert ${cacert}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    await benchCommand({
      ...flags,
      client: {
        ...(token === undefined || token === '' ? {} : { token }),
        ...(ca === undefined ? {} : { ca }),
      },
    });
  });

program
  .command('demo')
  .description(
    'run a simulated 5-replica ZAB group through leader crash, partition and full restart',
  )
  .addOption(new Option('--seed <n>', 'simulation seed').argParser(nonNegativeInteger).default(1))
  .action(async (options: { seed: number }) => {
    const seed = options.seed;
    const { runDemo } = await import('../sim/demo.js');
    runDemo(seed, (line) => console.log(line));
    console.log(
      [
        '',
        'Next:',
        '  npm test                      the test suite (200+ simulated fault seeds included)',
        '  npm run sim -- --seeds 10000  the long simulation sweep, split over both cores',
        '  npm run bench:zab             the protocol cost benchmark (results in BENCHMARKS.md)',
      ].join('\n'),
    );
  });

program
  .command('certs')
  .description('make a CA and a certificate for each node, for mutual TLS on the peer port')
  .requiredOption('--out <dir>', 'where to write them (existing files are kept)')
  .addOption(
    new Option('--nodes <n>', 'certificates for nodes 1..n')
      .argParser(positiveInteger)
      .makeOptionMandatory(),
  )
  .option('--cluster-id <name>', 'the cluster id the certificates are for', 'zabkv')
  .addOption(
    new Option('--bootstrap-node <id>', 'the node whose certificate carries the bootstrap role')
      .argParser(positiveInteger)
      .default(1),
  )
  .addOption(
    new Option('--days <n>', 'days each node certificate is valid')
      .argParser(positiveInteger)
      .default(825),
  )
  .option('--hosts <names>', 'comma-separated host names or IPs to add (loopback is in)')
  .action(
    async (options: {
      out: string;
      nodes: number;
      clusterId: string;
      bootstrapNode: number;
      days: number;
      hosts?: string;
    }) => {
      const { CertsError, makeClusterCerts } = await import('../client/cluster-certs.js');
      try {
        const written = makeClusterCerts({
          out: options.out,
          nodes: options.nodes,
          clusterId: options.clusterId,
          bootstrapNode: options.bootstrapNode,
          days: options.days,
          hosts: options.hosts?.split(',').filter((host) => host !== '') ?? [],
        });
        for (const file of written) console.log(`wrote ${file}`);
        if (written.length === 0) console.log(`${options.out} already has every file`);
      } catch (error) {
        if (error instanceof CertsError) usageError(error.message);
        throw error;
      }
    },
  );

/** A broken scenario file: every problem on its own line (not commander's one-line errors), exit 2. */
function scenarioRefused(message: string): void {
  console.error(message);
  process.exitCode = USAGE;
}

const experiment = program
  .command('experiment')
  .description('run a scenario file (README, "Experiments") and write its report');
experiment
  .command('run <scenario>')
  .description('on real processes on loopback')
  .option('--out <dir>', 'report folder (default: <scenario>-report beside the file)')
  .option('--seed <n>', "the workload's seed", '1')
  .action(async (file: string, flags: { out?: string; seed?: string }) => {
    const { experimentRun, ScenarioError } = await import('../experiment/experiment-command.js');
    await experimentRun(file, flags).catch((error: Error) =>
      error instanceof ScenarioError ? scenarioRefused(error.message) : Promise.reject(error),
    );
  });
experiment
  .command('sim <scenario>')
  .description('in the deterministic simulator, one run per seed')
  .option('--seeds <n>', 'how many seeds', '5')
  .option('--first-seed <n>', 'the first seed', '1')
  .option('--out <dir>', 'report folder (default: <scenario>-sim-report beside the file)')
  .action(async (file: string, flags: { out?: string; seeds?: string; firstSeed?: string }) => {
    const { experimentSim, ScenarioError } = await import('../experiment/experiment-command.js');
    await experimentSim(file, flags).catch((error: Error) =>
      error instanceof ScenarioError ? scenarioRefused(error.message) : Promise.reject(error),
    );
  });

program
  .command('node')
  .description('run one node of a cluster (settings also from ZABKV_* variables or --config)')
  .option('--id <n>', 'this node id (1..65534), fixed for its lifetime')
  .option('--peer <host:port>', 'where other nodes reach this one')
  .option('--http <host:port>', 'where clients reach this one')
  .option('--data <dir>', 'data directory')
  .option('--bootstrap-server', 'this node forms the cluster')
  .option('--cluster-size <n>', 'with --bootstrap-server: nodes to wait for')
  .option('--replication <n>', 'with --bootstrap-server: replicas per group (default 3)')
  .option('--bootstrap <host:port>', "the bootstrap node's peer address")
  .option('--cluster-id <name>', 'refuse peers of other clusters (default zabkv)')
  .addOption(
    new Option('--storage <kind>', 'the log store (default wal: append-only files)').choices([
      'wal',
      'lmdb',
    ]),
  )
  .option(
    '--min-free-bytes <size>',
    'free disk space below which writes get 507 (default: 64MiB or two log segments)',
  )
  .option('--tls-dir <dir>', 'mutual TLS on the peer port (ca.pem, node-<id>.pem, its key)')
  .option('--cert-file <file>', 'HTTPS on the client port: PEM certificate (chain) of this node')
  .option('--key-file <file>', 'HTTPS: PEM private key of --cert-file (mode 600)')
  .option('--trusted-ca-file <file>', 'with --client-cert-auth: PEM CA of client certificates')
  .option('--client-cert-auth', 'HTTPS: clients need a certificate signed by --trusted-ca-file')
  .option(
    '--token-file <file>',
    'bearer tokens, "<token> read|write|admin [<key prefix>]" a line (mode 600)',
  )
  .option(
    '--quota-bytes <size>',
    "the group's data (key + value bytes) before growing writes get 507 (default 2GiB)",
  )
  .option('--max-client-connections <n>', 'open client connections (default 4096)')
  .option('--snapshot-count <n>', 'commits between trims of the log kept in memory (default 50000)')
  .option(
    '--checkpoint-bytes <size>',
    'log applied between checkpoints (copies) of the applied state, after which the log on disk is compacted (default: a quarter of the state, 64MiB-128MiB)',
  )
  .option(
    '--watch-history-entries <n>',
    'applied changes each replica keeps for watchers to resume from (default 50000)',
  )
  .option(
    '--watch-history-bytes <size>',
    'the most memory that history takes per replica (default 32MiB)',
  )
  .option('--fault-injection', 'test harnesses: /admin/faults may drop peer traffic')
  .option(
    '--measure-turn-cpu',
    'diagnostics: a handler turn of 20 ms or more also says how long it was on the CPU and how long it waited for one (Linux; two file reads per turn)',
  )
  .option('--config <file>', 'a JSON file with any of these settings')
  .action(async (options: RawNodeSettings) => {
    const { ConfigError, resolveNodeConfig } = await import('../node/node-config.js');
    const { runNode } = await import('../node/run-node.js');
    const { DataDirInUse } = await import('../node/data-dir-lock.js');
    try {
      await runNode(resolveNodeConfig(options));
    } catch (error) {
      if (error instanceof ConfigError) usageError(error.message);
      if (error instanceof DataDirInUse) failure(error.message);
      throw error;
    }
  });

/** A parser that validates the text and keeps it as text (the flags bench-command.ts takes). */
function checked(parse: (text: string) => unknown): (text: string) => string {
  return (text) => {
    parse(text);
    return text;
  };
}

function nonNegativeSeconds(text: string): number {
  return text.trim() === '0' ? 0 : seconds(text);
}

// A bare `zabkv` prints the help (and exits 0), as etcdctl does.
if (process.argv.length <= 2) program.help();
try {
  await program.parseAsync();
} catch (error) {
  // Not a usage error (those exit in exitOverride).
  unexpectedFailure(error);
}
