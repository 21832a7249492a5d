import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, runCli, until } from './node-processes.js';

// Issue 16, item 6: `zabkv bench` finds the cluster it is pointed at (the state file of
// `zabkv start`, or every member /cluster lists) and skips a node that stopped answering.

const dir = mkdtempSync(join(tmpdir(), 'zabkv-bench-find-'));
const data = join(dir, 'data');
let ports: number;
let start: ChildProcess;
const url = (node: number) => `http://127.0.0.1:${ports + node - 1}`;

beforeAll(async () => {
  ports = await freePorts(6);
  start = spawn(
    process.execPath,
    [CLI, 'start', '--nodes', '3', '--replication', '3', '--data', data].concat([
      '--http-port',
      String(ports),
      '--peer-port',
      String(ports + 3),
    ]),
    { stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  await until(
    'the state file of zabkv start',
    async () => {
      const state = JSON.parse(readFileSync(join(data, 'cluster.json'), 'utf8')) as {
        endpoints: string[];
      };
      return state.endpoints.length === 3 ? true : undefined;
    },
    60_000,
  );
}, 90_000);

afterAll(async () => {
  const exited = new Promise((resolve) => start.once('exit', resolve));
  start.kill('SIGINT');
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

const run = ['--total', '300', '--clients', '4', '--warmup', '0', '--json'];

async function bench(args: string[]) {
  const result = await runCli(['bench', ...args, ...run], {}, 60_000);
  expect(result.code, result.stderr).toBe(0);
  const json = JSON.parse(result.stdout) as { ops: number; errors: Record<string, number> };
  const errors = Object.values(json.errors).reduce((sum, n) => sum + n, 0);
  return { ...json, errorCount: errors, stderr: result.stderr };
}

describe('zabkv bench finds the cluster', () => {
  it('from the state file of zabkv start (--data)', async () => {
    const result = await bench(['--data', data]);
    expect(result.stderr).toContain(`bench: 3 nodes: ${url(1)} ${url(2)} ${url(3)}`);
    expect(result.ops).toBeGreaterThanOrEqual(300);
  }, 60_000);

  it('from /cluster of one node given as host:port', async () => {
    const result = await bench(['--nodes', `127.0.0.1:${ports + 1}`]);
    expect(result.stderr).toMatch(/bench: 3 nodes:/);
    expect(result.ops).toBeGreaterThanOrEqual(300);
  }, 60_000);

  it('skips a node that stopped answering instead of failing a third of the requests', async () => {
    const pid = Number(readFileSync(join(data, 'node-1', 'LOCK'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    const result = await bench(['--nodes', [1, 2, 3].map(url).join(',')]);
    // A few requests meet the dead node before it is skipped (and once a second after): far
    // fewer than the 100 a round-robin over three nodes would send it.
    expect(result.errorCount).toBeLessThan(30);
    expect(result.ops + result.errorCount).toBeGreaterThanOrEqual(300);
  }, 60_000);

  it('a client command without --endpoints uses the nodes of ./data/cluster.json, past node 1 down', () => {
    // Node 1 was killed above; the CLI run where `npm start` would run finds the others.
    const put = spawnSync(process.execPath, [resolve(CLI), 'put', 'default/endpoints', 'v'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ZABKV_ENDPOINTS: '' },
    });
    expect(put.status, put.stderr).toBe(0);
  });
});
