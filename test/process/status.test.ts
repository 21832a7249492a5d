import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import type { StatusView } from '../../client/status-table.js';
import { CLI, freePorts, runCli, until } from './node-processes.js';

// Issue 16, items 2, 4 and 5 on real processes: `zabkv status` tells the truth about each
// member (and exits 1 without a leader), and client commands fail over across --endpoints.

const dir = mkdtempSync(join(tmpdir(), 'zabkv-status-'));
let cluster: LocalCluster;
let dead: string;
const url = (node: number) => httpUrl(cluster.options, node);

async function status(): Promise<{ code: number | null; view: StatusView }> {
  const endpoints = [dead, url(1), url(2), url(3)].join(',');
  const result = await runCli(['status', '-w', 'json', '--endpoints', endpoints]);
  return { code: result.code, view: JSON.parse(result.stdout) as StatusView };
}

beforeAll(async () => {
  const ports = await freePorts(7);
  dead = `127.0.0.1:${ports + 6}`; // nothing listens there
  cluster = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: join(dir, 'data'),
    firstHttpPort: ports,
    firstPeerPort: ports + 3,
    cli: CLI,
    env: { LOG_LEVEL: 'warn' },
  });
  cluster.start();
  await cluster.ready(60_000);
}, 90_000);

afterAll(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the CLI against a cluster', () => {
  it('fails over from an endpoint that is down; put - reads stdin; -w json', () => {
    const endpoints = `${dead},${url(2).replace('http://', '')}`;
    const put = spawnSync(
      process.execPath,
      [CLI, 'put', 'app/config', '-', '--endpoints', endpoints, '-w', 'json'],
      { input: 'from stdin', encoding: 'utf8' },
    );
    expect(put.status, put.stderr).toBe(0);
    const { version } = JSON.parse(put.stdout) as { version: string };
    const get = spawnSync(process.execPath, [CLI, 'get', 'app/config', '-w', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, ZABKV_ENDPOINTS: endpoints },
    });
    expect(get.status, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ key: 'app/config', version, value: 'from stdin' });
  });

  it('status: every member reachable and in its role, health ok, exit 0', async () => {
    const { code, view } = await until('every member applied what its leader has', async () => {
      const seen = await status();
      return seen.view.groups[0]?.health === 'ok' ? seen : undefined;
    });
    expect(code).toBe(0);
    const [group] = view.groups;
    expect(group!.members.map((m) => m.reachable)).toEqual([true, true, true]);
    expect(group!.members.filter((m) => m.role === 'leading')).toHaveLength(1);
    expect(group!.members.every((m) => m.lag === 0 && m.epoch !== undefined)).toBe(true);
    // /metrics says the same: the leader knows it leads and how far each follower is behind.
    const metrics = await (await fetch(`${url(group!.leader!)}/metrics`)).text();
    expect(metrics).toMatch(/^zabkv_is_leader 1$/m);
    expect(metrics).toMatch(/^zabkv_applied_zxid \d+$/m);
    expect(metrics).toMatch(/^zabkv_committed_zxid \d+$/m);
    for (const follower of group!.members.filter((m) => m.id !== group!.leader)) {
      expect(metrics).toMatch(
        new RegExp(`^zabkv_follower_lag_proposals\\{follower="${follower.id}"\\} \\d+$`, 'm'),
      );
    }
  });

  it('status: a dead member makes its group degraded; without a quorum, no-leader and exit 1', async () => {
    const leader = (await status()).view.groups[0]!.leader!;
    const followers = [1, 2, 3].filter((n) => n !== leader);
    cluster.process(followers[0]!)!.kill('SIGKILL');
    const degraded = await until('the group reported degraded', async () => {
      const seen = await status();
      return seen.view.groups[0]?.health === 'degraded' ? seen : undefined;
    });
    expect(degraded.code).toBe(0);
    const down = degraded.view.groups[0]!.members.find((m) => m.id === followers[0]);
    expect(down?.reachable).toBe(false);
    cluster.process(followers[1]!)!.kill('SIGKILL');
    const leaderless = await until('the group reported without a leader', async () => {
      const seen = await runCli(['status', '--endpoints', url(leader)]);
      return seen.stdout.includes('no-leader') ? seen : undefined;
    });
    expect(leaderless.code).toBe(1);
    expect(leaderless.stdout).toMatch(/REACHABLE/);
  }, 60_000);
});
