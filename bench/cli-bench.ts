import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster, httpUrl } from '../client/local-cluster.js';
import { machineDescription, median, writeBenchmarkSection } from './report.js';

// `npm run bench:cli`: wall time of one `zabkv get` / `put` / `status` process, start to exit,
// against a one-node cluster (issue 16: under 150 ms for get and put; etcdctl takes 17 ms).

const RUNS = 20;
const NODE_ONLY: string[] = [];
// The command as installed (package.json `bin`): cli.ts's code bundled into one CommonJS file.
const CLI = fileURLToPath(new URL('../cli/zabkv.cjs', import.meta.url));

/** Wall time of `node <CLI> args`, or of `node -e 0` (Node's own start-up) for NODE_ONLY. */
function wallMs(args: string[]): number {
  const started = process.hrtime.bigint();
  const argv = args === NODE_ONLY ? ['-e', '0'] : [CLI, ...args];
  const result = spawnSync(process.execPath, argv, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`zabkv ${args.join(' ')}: ${result.stderr}`);
  return ms;
}

const dir = mkdtempSync(join(tmpdir(), 'zabkv-cli-bench-'));
const cluster = new LocalCluster({
  nodes: 1,
  replication: 1,
  dataDir: dir,
  firstHttpPort: 28_101,
  firstPeerPort: 27_101,
  env: { LOG_LEVEL: 'warn' },
});
cluster.start();
try {
  await cluster.ready(60_000);
  const endpoints = ['--endpoints', httpUrl(cluster.options, 1)];
  const commands: [string, string[]][] = [
    ['`zabkv put bench/key value`', ['put', 'bench/key', 'value', ...endpoints]],
    ['`zabkv get bench/key`', ['get', 'bench/key', ...endpoints]],
    ['`zabkv status`', ['status', ...endpoints]],
    ['`zabkv --version` (start-up alone)', ['--version']],
    ['`node -e 0` (Node alone: the floor)', NODE_ONLY],
  ];
  wallMs(commands[0]![1]); // the first run warms the file cache
  const rows: string[] = [];
  const load = loadavg()[0]!.toFixed(1);
  // Round-robin, so that a drift of the shared machine's load touches every command alike.
  const timesOf = commands.map((): number[] => []);
  for (let run = 0; run < RUNS; run++) {
    commands.forEach(([, args], i) => timesOf[i]!.push(wallMs(args)));
  }
  for (const [i, [name]] of commands.entries()) {
    const times = timesOf[i]!;
    const sorted = [...times].sort((a, b) => a - b);
    rows.push(
      `| ${name} | ${median(times).toFixed(0)} | ${sorted[0]!.toFixed(0)}–${sorted.at(-1)!.toFixed(0)} |`,
    );
    console.log(`${name}: median ${median(times).toFixed(0)} ms`);
  }
  writeBenchmarkSection(
    'cli',
    'CLI: wall time of one command',
    'npm run bench:cli',
    [
      `Each command run ${RUNS} times, the commands taking turns, as \`node dist/cli/zabkv.cjs …\` (the installed \`zabkv\`: a new`,
      'process each time, start to exit) against a one-node local cluster. Target: get and put',
      'under 150 ms.',
      `Load average when it started: ${load} on this machine.`,
      '',
      '| command | median (ms) | range (ms) |',
      '| --- | --- | --- |',
      ...rows,
      '',
      "A plain get, put or del loads node:http and a few of zabkv's own files, not even commander",
      '(`cli/fast-path.ts`); status loads commander too; none loads undici, the node host or the',
      'plotting libraries. `test/cli/lazy-imports.test.ts` keeps it so.',
      'The installed command is that code bundled into one CommonJS file by the build',
      '(bundle-cli.mjs): on Node 20 the ES module loader alone costs ~10 ms and each further',
      'module a few more, so the bundle starts some 25 ms sooner than `dist/cli/cli.js`.',
      "What a command costs above `node -e 0` is the CLI; Node's own start-up on this machine is",
      'the floor under every row.',
    ].join('\n'),
  );
  console.log(`machine: ${machineDescription()}`);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
