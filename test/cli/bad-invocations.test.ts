import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Issue 16, item 4: every bad invocation is refused before anything starts, as one line on
// stderr and exit 2, never a stack trace. No node runs here: each must fail in validation.

const CLI = 'dist/cli/cli.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ZABKV_ENDPOINTS: '', ...env },
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const badInvocations: [args: string[], says: RegExp, env?: NodeJS.ProcessEnv][] = [
  [['stauts'], /unknown command 'stauts'.*Did you mean status\?/],
  [['start', '--nodes', 'abc'], /--nodes.*'abc' is invalid/],
  [['start', '--nodes', '0'], /--nodes.*positive integer/],
  [['start', '--nodes', '2', '--replication', '3'], /--replication 3 needs at least as many/],
  [['start', '--http-port', '70000'], /--http-port.*port/],
  [['start', '--storage', 'rocks'], /--storage.*Allowed choices are wal, lmdb/],
  [['bench', '--duration', 'abc'], /--duration.*'abc' is invalid/],
  [['bench', '--read-ratio', '2'], /--read-ratio.*from 0 to 1/],
  [['bench', '--clients', '0'], /--clients.*positive integer/],
  [['bench', '--target', 'redis'], /--target.*Allowed choices/],
  [['bench', '--duration', '1', '--total', '5'], /--duration or --total, not both/],
  [['bench', '--nodes', 'ftp://x'], /--nodes.*only http/],
  [
    ['node', '--id', '1', '--peer', '127.0.0.1:1', '--http', '127.0.0.1:2', '--data', '/tmp/x'],
    /either --bootstrap-server/,
  ],
  [
    [
      'node',
      '--id',
      '1',
      '--peer',
      '127.0.0.1:1',
      '--http',
      '127.0.0.1:2',
      '--data',
      '/tmp/x',
    ].concat(['--bootstrap-server', '--cluster-size', '3', '--replication', '5']),
    /--replication 5 needs a --cluster-size of at least that/,
  ],
  [['get'], /missing required argument 'key'/],
  [['get', 'k', '-w', 'xml'], /--write-out.*Allowed choices are simple, json, table/],
  [['get', 'k', '--endpoints', ''], /--endpoints.*at least one/],
  [['get', 'k', '--endpoints', 'http://h:1/path'], /base URL/],
  [['get', 'k', '--url', '127.0.0.1:notaport'], /--url.*not host:port or a URL/],
  [['get', 'k'], /ZABKV_ENDPOINTS/, { ZABKV_ENDPOINTS: 'gopher://x' }],
  [['put', 'k', 'v', '--if-match', '3', '--if-absent'], /exclude each other/],
  [['ls', 'p/', '--limit', '0'], /--limit is a page size from 1 to 10000/],
  [['put', 'k', 'v', '--cert', 'c.pem'], /--cert and --key go together/],
  [['status', '--cacert', '/nonexistent/ca.pem'], /--cacert \/nonexistent\/ca.pem: ENOENT/],
  [['demo', '--seed', 'x'], /--seed.*non-negative integer/],
  [['certs', '--out', '/tmp/never'], /--nodes <n>' not specified/],
  [['get', 'k', '--frobnicate'], /unknown option '--frobnicate'/],
];

describe('zabkv refuses bad invocations as one line and exit 2', () => {
  it.each(badInvocations)('zabkv %j', (args, says, env) => {
    const { code, stdout, stderr } = cli(args, env);
    expect(stderr).toMatch(says);
    expect(code, stderr).toBe(2);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe('');
  });
});

describe('zabkv without a command, and --version', () => {
  it('prints the help and exits 0', () => {
    const { code, stdout } = cli([]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: zabkv/);
    expect(stdout).toMatch(/status/);
  });

  it('prints the version of package.json', () => {
    const { code, stdout } = cli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a command that reaches no node is one line and exit 1', () => {
    const { code, stderr } = cli(['get', 'k', '--endpoints', '127.0.0.1:1,localhost:2']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^503 ConnectionFailed: no endpoint could answer/);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('zabkv demo', () => {
  it('prints a replay hint that runs as printed and replays the same trace', () => {
    const first = cli(['demo', '--seed', '3']);
    expect(first.code).toBe(0);
    const hint = /trace sha256 (\S+); replay: (.+)$/m.exec(first.stdout);
    expect(hint).not.toBeNull();
    const [, trace, command] = hint!;
    expect(command).toBe('npx zabkv demo --seed 3');
    const replay = cli(command!.split(' ').slice(2)); // `npx zabkv` is this CLI
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`trace sha256 ${trace}`);
  }, 60_000);
});
