#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { clusterStatus, formatStatus } from '../client/status-table.js';
import { ZabkvClient, KvError, type ClientOptions } from '../client/zabkv-client.js';
import type { BenchFlags } from '../loadgen/bench-command.js';
import type { RawNodeSettings } from '../node/node-config.js';

// Commands load what they use when they run: `zabkv get` must not pay for the node host, the
// simulator or the plotting libraries.

const program = new Command()
  .name('zabkv')
  .description('A partitioned, linearizable key-value store replicated with ZAB');

program
  .command('start', { isDefault: true })
  .description('start a local cluster (separate processes on loopback); Ctrl-C stops it')
  .option('--nodes <n>', 'nodes', '6')
  .option('--replication <n>', 'replicas per group', '3')
  .option('--data <dir>', 'data directory (reused on the next start)', './data')
  .option('--http-port <n>', 'HTTP port of node 1 (node n: + n - 1)', '8001')
  .option('--peer-port <n>', 'peer port of node 1 (node n: + n - 1)', '7001')
  .option('--storage <kind>', 'the log store: wal (default) or lmdb')
  .option('--profile <dir>', 'write a CPU profile of each node to <dir> when it stops')
  .option('--tls', 'mutual TLS between the nodes (certificates made in <data>/tls if missing)')
  .action(async (options: Record<string, string>) => {
    const { LocalCluster, httpUrl } = await import('../client/local-cluster.js');
    const profile = options['profile'];
    const cluster = new LocalCluster({
      nodes: Number(options['nodes']),
      replication: Number(options['replication']),
      dataDir: options['data']!,
      firstHttpPort: Number(options['httpPort']),
      firstPeerPort: Number(options['peerPort']),
      env: options['storage'] === undefined ? {} : { ZABKV_STORAGE: options['storage'] },
      nodeFlags: profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`],
      ...(options['tls'] === undefined ? {} : { tlsDir: `${options['data']}/tls` }),
    });
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      console.log('\nstopping all nodes…');
      void cluster.stop().then(() => {
        console.log('all nodes stopped; `npm start` again reuses the data');
        process.exit(0);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      cluster.start();
    } catch (error) {
      program.error(`cannot start: ${(error as Error).message}`);
    }
    console.log(
      `starting ${cluster.options.nodes} nodes (logs in ${options['data']}/node-<n>.log)…`,
    );
    if (cluster.options.tlsDir !== undefined) {
      console.log(`mutual TLS between the nodes, certificates in ${cluster.options.tlsDir}`);
    }
    await cluster.ready(60_000);
    const url = (n: number) => httpUrl(cluster.options, Math.min(n, cluster.options.nodes));
    for (let n = 1; n <= cluster.options.nodes; n++) console.log(`  node ${n}: ${url(n)}`);
    console.log(`\nDashboard (any node serves it): ${url(1)}/ui`);
    console.log(
      [
        '',
        'Every node accepts every key. Try:',
        `  curl -i -X PUT ${url(1)}/kv/hello -d 'world'`,
        `  curl -i ${url(4)}/kv/hello`,
        `  curl -i -X PUT ${url(2)}/kv/hello -H 'If-Match: "<version from the ETag>"' -d 'again'`,
        `  curl -i -X PUT ${url(3)}/kv/new -H 'If-None-Match: *' -d 'only if absent'`,
        `  curl -i -X DELETE ${url(5)}/kv/hello`,
        `  curl -s ${url(6)}/cluster`,
        `  npx zabkv status        npx zabkv put k v        npx zabkv get k`,
        '',
        'Ctrl-C stops every node cleanly.',
      ].join('\n'),
    );
  });

const DEFAULT_URL = 'http://127.0.0.1:8001';

/** How a command reaches a node: its URL, and the token and certificates of a secured cluster. */
interface ConnectionFlags {
  url: string;
  token?: string;
  cacert?: string;
  cert?: string;
  key?: string;
}

/** The options every client command takes. */
function withConnectionOptions(command: Command): Command {
  return command
    .option('--url <url>', 'any node (https:// for a node with --cert-file)', DEFAULT_URL)
    .option('--token <token>', 'bearer token (default: $ZABKV_TOKEN, which ps does not show)')
    .option('--cacert <file>', "PEM CA of the nodes' HTTPS certificates (default: $ZABKV_CACERT)")
    .option('--cert <file>', 'PEM client certificate, for nodes with --client-cert-auth')
    .option('--key <file>', 'PEM key of --cert');
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    return program.error(`${flag} ${path}: ${(error as Error).message}`);
  }
}

/** The client options of `--token`, `--cacert`, `--cert`, `--key` (and ZABKV_TOKEN, ZABKV_CACERT). */
function connectionOf(
  flags: Omit<ConnectionFlags, 'url'>,
  env: NodeJS.ProcessEnv = process.env,
): Omit<ClientOptions, 'nodes'> {
  const token = flags.token ?? env['ZABKV_TOKEN'];
  const cacert = flags.cacert ?? env['ZABKV_CACERT'];
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    program.error('--cert and --key go together');
  }
  return {
    ...(token === undefined || token === '' ? {} : { token }),
    ...(cacert === undefined || cacert === '' ? {} : { ca: readPem(cacert, '--cacert') }),
    ...(flags.cert === undefined ? {} : { cert: readPem(flags.cert, '--cert') }),
    ...(flags.key === undefined ? {} : { key: readPem(flags.key, '--key') }),
  };
}

const withClient =
  (run: (client: ZabkvClient) => Promise<void>) =>
  async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const { url, ...flags } = command.opts() as ConnectionFlags;
    const client = new ZabkvClient({ nodes: [url], ...connectionOf(flags) });
    try {
      await run(client);
    } catch (error) {
      if (error instanceof KvError) {
        console.error(`${error.status} ${error.code}: ${error.message}`);
        process.exitCode = 1;
      } else throw error;
    } finally {
      await client.close();
    }
  };

withConnectionOptions(
  program.command('get <key>').description('print the value of a key (its version on stderr)'),
)
  .option('--stale', 'read the local replica (may lag)')
  .action((key: string, options: { stale?: boolean }, command: Command) =>
    withClient(async (client) => {
      const { value, version } = await client.get(key, options.stale ? 'stale' : 'linearizable');
      process.stdout.write(value);
      process.stdout.write('\n');
      console.error(`version ${version}`);
    })(command),
  );

withConnectionOptions(
  program.command('put <key> <value>').description('set a key; prints the new version'),
)
  .option('--if-match <version>', 'only if the current version is this (or *)')
  .option('--if-absent', 'only if the key has no value')
  .action(
    (
      key: string,
      value: string,
      options: { ifMatch?: string; ifAbsent?: boolean },
      command: Command,
    ) =>
      withClient(async (client) => {
        const version = await client.put(key, value, {
          ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
          ...(options.ifAbsent ? { ifNoneMatch: '*' as const } : {}),
        });
        console.log(version);
      })(command),
  );

withConnectionOptions(program.command('del <key>').description('delete a key'))
  .option('--if-match <version>', 'only if the current version is this (or *)')
  .action((key: string, options: { ifMatch?: string }, command: Command) =>
    withClient(async (client) => {
      await client.del(key, options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch });
    })(command),
  );

withConnectionOptions(
  program.command('status').description('groups, key ranges, members, leader, epoch, zxid'),
).action((_options: unknown, command: Command) =>
  withClient(async (client) => {
    console.log(formatStatus(await clusterStatus(client)));
  })(command),
);

program
  .command('bench')
  .description("load generator (like etcd's benchmark): throughput and latency percentiles")
  .option('--target <name>', 'zabkv, etcd or zookeeper', 'zabkv')
  .option(
    '--nodes <urls>',
    'comma-separated node URLs (default: the local cluster, or a temporary one)',
  )
  .option('--clients <n>', 'requests in flight', '64')
  .option(
    '--conns <n>',
    'connections per node (default: --clients; HTTP/1.1 carries one write at a time)',
  )
  .option('--duration <s>', 'seconds to measure (default 10)')
  .option('--total <n>', 'operations to measure, instead of --duration')
  .option('--rate <n>', 'open loop: operations per second (latency from the intended send time)')
  .option('--read-ratio <f>', 'fraction of reads', '0')
  .option('--consistency <c>', 'linearizable or stale reads', 'linearizable')
  .option('--key-space <n>', 'distinct keys', '10000')
  .option('--key-dist <d>', 'uniform or zipf', 'uniform')
  .option('--value-size <n>', 'bytes per value', '100')
  .option('--warmup <s>', 'seconds before measuring', '1')
  .option('--seed <n>', 'seed of the key and operation choices', '1')
  .option('--json', 'print the result as JSON')
  .option('--svg <dir>', 'also write <dir>/throughput.svg and <dir>/latency.svg for the run')
  .option('--token <token>', 'zabkv: bearer token (default: $ZABKV_TOKEN)')
  .option(
    '--cacert <file>',
    "zabkv: PEM CA of the nodes' HTTPS certificates (default: $ZABKV_CACERT)",
  )
  .action(async (options: BenchFlags & { token?: string; cacert?: string }) => {
    const { benchCommand } = await import('../loadgen/bench-command.js');
    const { token, cacert, ...flags } = options;
    await benchCommand({
      ...flags,
      client: connectionOf({
        ...(token === undefined ? {} : { token }),
        ...(cacert === undefined ? {} : { cacert }),
      }),
    });
  });

program
  .command('demo')
  .description(
    'run a simulated 5-replica ZAB group through leader crash, partition and full restart',
  )
  .option('--seed <n>', 'simulation seed', '1')
  .action(async (options: { seed: string }) => {
    const seed = Number(options.seed);
    if (!Number.isInteger(seed)) program.error(`--seed must be an integer, got ${options.seed}`);
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
  .requiredOption('--nodes <n>', 'certificates for nodes 1..n')
  .option('--cluster-id <name>', 'the cluster id the certificates are for', 'zabkv')
  .option('--bootstrap-node <id>', 'the node whose certificate carries the bootstrap role', '1')
  .option('--days <n>', 'days each node certificate is valid', '825')
  .option('--hosts <names>', 'comma-separated host names or IPs to add (loopback is in)')
  .action(async (options: Record<string, string>) => {
    const { CertsError, makeClusterCerts } = await import('../client/cluster-certs.js');
    const number = (flag: string, text: string) => {
      const value = Number(text);
      if (!Number.isInteger(value) || value < 1) {
        program.error(`${flag} must be a positive integer`);
      }
      return value;
    };
    try {
      const written = makeClusterCerts({
        out: options['out']!,
        nodes: number('--nodes', options['nodes']!),
        clusterId: options['clusterId']!,
        bootstrapNode: number('--bootstrap-node', options['bootstrapNode']!),
        days: number('--days', options['days']!),
        hosts: options['hosts']?.split(',').filter((host) => host !== '') ?? [],
      });
      for (const file of written) console.log(`wrote ${file}`);
      if (written.length === 0) console.log(`${options['out']} already has every file`);
    } catch (error) {
      if (error instanceof CertsError) program.error(error.message);
      throw error;
    }
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
  .option('--storage <kind>', 'the log store: wal (append-only files, default) or lmdb')
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
  .option('--config <file>', 'a JSON file with any of these settings')
  .action(async (options: RawNodeSettings) => {
    const { ConfigError, resolveNodeConfig } = await import('../node/node-config.js');
    const { runNode } = await import('../node/run-node.js');
    const { DataDirInUse } = await import('../node/data-dir-lock.js');
    try {
      await runNode(resolveNodeConfig(options));
    } catch (error) {
      if (error instanceof ConfigError || error instanceof DataDirInUse) {
        program.error(error.message);
      }
      throw error;
    }
  });

await program.parseAsync();
