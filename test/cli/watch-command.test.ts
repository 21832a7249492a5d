import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../watch/watch-port.js';
import { TWO_GROUPS, startFrontend, stopFrontends } from '../http/frontend-fixture.js';

afterEach(stopFrontends);

const CLI = 'dist/cli/cli.js';

const put = (zxid: number, key: string, value: Uint8Array): WatchEvent => ({
  zxid,
  type: 'put',
  changes: [{ key, type: 'put', value }],
});

/** Runs `zabkv watch …` until `lines` lines are printed, then interrupts it (Ctrl-C). */
function watchUntil(args: string[], lines: number, onStarted: () => void) {
  const child = spawn(process.execPath, [CLI, 'watch', ...args], {
    env: { ...process.env, ZABKV_ENDPOINTS: '' },
  });
  let stdout = '';
  let stderr = '';
  let started = false;
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ stdout: string[]; stderr: string; code: number | null }>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const printed = stdout.split('\n').filter((l) => l !== '');
      if (!started && printed.length >= 1) {
        started = true;
        onStarted();
      }
      if (printed.length >= lines) child.kill('SIGINT');
    });
    child.on('exit', (code) =>
      resolve({ stdout: stdout.split('\n').filter((l) => l !== ''), stderr, code }),
    );
  });
}

describe('zabkv watch', () => {
  it('prints each change (-w json: every message), and on Ctrl-C how to resume', async () => {
    const { host, port } = await startFrontend({ cluster: TWO_GROUPS });
    const endpoint = `http://127.0.0.1:${port}`;
    const { stdout, stderr, code } = await watchUntil(
      ['--prefix', 'a/', '-w', 'json', '--endpoints', endpoint],
      3,
      () => {
        host.watch.append(0, put(1, 'a/x', Buffer.from('one')));
        host.watch.append(1, {
          zxid: 2,
          type: 'delete',
          changes: [{ key: 'a/y', type: 'delete' }],
        });
      },
    );
    expect(code).toBe(0);
    const messages = stdout.map((line) => JSON.parse(line));
    expect(messages[0]).toEqual({ type: 'progress', cursor: 't7;0=0,1=0' });
    expect(
      messages
        .slice(1)
        .map((m) => m.zxid)
        .sort(),
    ).toEqual(['1', '2']);
    expect(stderr).toContain(`resume with --from '${messages[2].cursor}'`);

    const simple = await watchUntil(
      ['--prefix', 'a/', '--from', 't7;0=0,1=0', '--endpoints', endpoint],
      2,
      () => {},
    );
    expect(simple.stdout.sort()).toEqual(['delete a/y 2', 'put a/x 1 one']);

    // --list: the keys as they are first (a fresh node: its writes number its zxids from 1).
    const fresh = await startFrontend({ cluster: TWO_GROUPS });
    await fresh.app.inject({ method: 'PUT', url: '/kv/a%2Fnow', payload: 'here' });
    const listed = await watchUntil(
      ['--prefix', 'a/', '--list', '--endpoints', `http://127.0.0.1:${fresh.port}`],
      1,
      () => {},
    );
    expect(listed.stdout).toEqual(['put a/now 1 here']);
  });

  it('refuses a watch of nothing, or of a key and a prefix at once (exit 2)', () => {
    for (const args of [
      ['watch'],
      ['watch', 'k', '--prefix', 'p'],
      ['watch', 'k', '--list', '--from', 't1;0=1'],
    ]) {
      const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/give a key or --prefix|--list or --from/);
    }
  });
});
