import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, runCli, until } from '../process/node-processes.js';

// Issue 16, item 2: `zabkv start` refuses data and ports in use, reports a node that exits
// with the end of its log, brings it back with --restart-failed, and gives up at once (exit 1,
// the other nodes stopped) when a node fails at boot.

const dir = mkdtempSync(join(tmpdir(), 'zabkv-supervise-'));

/** A running `zabkv start` and everything it printed so far. */
function start(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [CLI, 'start', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, output: () => output, exited };
}

let ports: number;
let running: ReturnType<typeof start>;
const shape = (data: string, first = ports) => [
  '--nodes',
  '1',
  '--replication',
  '1',
  '--data',
  data,
  '--http-port',
  String(first),
  '--peer-port',
  String(first + 1),
];

beforeAll(async () => {
  ports = await freePorts(4);
  running = start([...shape(join(dir, 'a')), '--restart-failed']);
  await until(
    'the first cluster is ready',
    async () => (running.output().includes('Every node accepts every key') ? true : undefined),
    60_000,
  );
}, 90_000);

afterAll(async () => {
  running.child.kill('SIGINT');
  await running.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('zabkv start', () => {
  it('refuses a data directory in use, naming the process, and exits 1', async () => {
    const pid = readFileSync(join(dir, 'a', 'node-1', 'LOCK'), 'utf8').trim();
    const second = await runCli(['start', ...shape(join(dir, 'a'), ports + 2)]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`node-1 is in use by process ${pid}`);
    expect(second.stdout).not.toContain('Every node accepts every key');
  });

  it('refuses ports in use and exits 1', async () => {
    const second = await runCli(['start', ...shape(join(dir, 'b'))]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`port ${ports} \\(node 1's HTTP port\\) is in use`));
  });

  it('reports a node that exits, with its log, and --restart-failed brings it back', async () => {
    const pid = Number(readFileSync(join(dir, 'a', 'node-1', 'LOCK'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await until('the exit reported and the node restarted', async () =>
      running.output().includes(`restarting node 1`) ? true : undefined,
    );
    expect(running.output()).toMatch(/node 1 exited on SIGKILL; the end of .*node-1\.log:/);
    await until('the restarted node serves', async () => {
      const response = await fetch(`http://127.0.0.1:${ports}/readyz`);
      return response.status === 200 ? true : undefined;
    });
    const after = Number(readFileSync(join(dir, 'a', 'node-1', 'LOCK'), 'utf8').trim());
    expect(after).not.toBe(pid);
  }, 60_000);

  it('stops the others and exits 1 within seconds when a node fails at boot', async () => {
    const data = join(dir, 'c');
    mkdirSync(data);
    writeFileSync(join(data, 'node-2'), 'not a directory'); // node 2 cannot make its data dir
    const [first] = [await freePorts(4)];
    const failing = await runCli(
      ['start', '--nodes', '2', '--replication', '1', '--data', data].concat([
        '--http-port',
        String(first),
        '--peer-port',
        String(first + 2),
      ]),
      {},
      30_000,
    );
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/cannot start: node 2 exited with code 1; the end of/);
    expect(failing.stdout).toContain('all nodes stopped');
    // Node 1 was stopped with it: its port is free again.
    await expect(fetch(`http://127.0.0.1:${first}/livez`)).rejects.toThrow();
  }, 40_000);
});
