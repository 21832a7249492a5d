import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { CLI, freePorts } from '../process/node-processes.js';

// Issue 16, "Done when": every fenced command in README.md that starts with `npx zabkv` or
// `curl` runs as printed against a test cluster. Three nodes stand in for the six of
// `npm start`: node n of the README is node ((n - 1) mod 3) + 1 here, its ports mapped so.

/** Commands that are not run here, and why. */
const NOT_RUN: [RegExp, string][] = [
  [/^npx zabkv experiment /, 'runs clusters for minutes; experiments have their own tests'],
];

function readmeCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const blocks = [...readme.matchAll(/^```(?:sh|bash)?\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  return blocks
    .flatMap((block) => block.split('\n'))
    .filter((line) => /^(npx zabkv|curl)\b|\| npx zabkv\b/.test(line))
    .filter((line) => !NOT_RUN.some(([pattern]) => pattern.test(line)));
}

const NODES = 3;
const dir = mkdtempSync(join(tmpdir(), 'zabkv-readme-'));
let cluster: LocalCluster;

/** The command with the README's ports and `npx zabkv` pointed at the test cluster. */
function localized(command: string): string {
  return command
    .replace(/127\.0\.0\.1:80(\d\d)/g, (_, n: string) => {
      const node = ((Number(n) - 1) % NODES) + 1;
      return `127.0.0.1:${cluster.options.firstHttpPort + node - 1}`;
    })
    .replace(/\bnpx zabkv\b/g, `${process.execPath} ${resolve(CLI)}`);
}

beforeAll(async () => {
  const ports = await freePorts(2 * NODES);
  cluster = new LocalCluster({
    nodes: NODES,
    replication: NODES,
    dataDir: join(dir, 'data'),
    firstHttpPort: ports,
    firstPeerPort: ports + NODES,
    cli: CLI,
    env: { LOG_LEVEL: 'warn', ZABKV_FAULT_INJECTION: '1' },
  });
  cluster.start();
  await cluster.ready(60_000);
}, 90_000);

afterAll(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('README commands run as printed', () => {
  const commands = readmeCommands();

  it('finds the quick start commands (the extraction works)', () => {
    expect(
      commands.some((c) => c.startsWith('curl -i -X PUT http://127.0.0.1:8001/kv/hello')),
    ).toBe(true);
    expect(commands.some((c) => c.startsWith('npx zabkv status'))).toBe(true);
  });

  it('every command exits 0 and says what README says it does', () => {
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(commands.some((c) => c.includes('| npx zabkv put'))).toBe(true);
    const endpoints = Array.from({ length: NODES }, (_, i) => httpUrl(cluster.options, i + 1));
    for (const command of commands) {
      const result = spawnSync('bash', ['-c', localized(command)], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, ZABKV_ENDPOINTS: endpoints.join(',') },
      });
      expect(result.status, `${command}\n${result.stderr}`).toBe(0);
      expect(result.stdout + result.stderr, command).not.toMatch(/\n\s+at |Error:/);
      // The README's own comment says what to expect; where it names a status, check it.
      const status = /# (\d{3})\b/.exec(command)?.[1];
      if (status !== undefined)
        expect(result.stdout, command).toMatch(new RegExp(`HTTP/1.1 ${status}`));
    }
  }, 120_000);
});
