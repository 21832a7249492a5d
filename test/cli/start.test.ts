import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, clusterPorts } from '../process/node-processes.js';

// What README's quick start runs (`npm start` = `zabkv start`): the banner, then a clean stop.
describe('zabkv start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts a local cluster, prints what to try next, and stops cleanly on Ctrl-C', async () => {
    const { firstHttpPort: httpPort, firstPeerPort: peerPort } = await clusterPorts(1);
    const args = ['start', '--nodes', '1', '--replication', '1', '--data', dir];
    args.push('--http-port', String(httpPort), '--peer-port', String(peerPort));
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const check = setInterval(() => {
          if (output.includes('Every node accepts every key')) resolve();
          if (child.exitCode !== null) reject(new Error(`exited early:\n${output}`));
        }, 50);
        void exited.finally(() => clearInterval(check));
        setTimeout(() => reject(new Error(`no banner within 50 s:\n${output}`)), 50_000);
      });
      expect(output).toContain(`http://127.0.0.1:${httpPort}`);
      const response = await fetch(`http://127.0.0.1:${httpPort}/kv/hello`, {
        method: 'PUT',
        body: 'world',
      });
      expect(response.status).toBe(200);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
