import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { ZabkvClient } from '../../client/zabkv-client.js';
import { terminate } from '../../client/process-exit.js';
import { CLI, clusterPorts, testDirectory, until } from './node-processes.js';

// Mutual TLS on the peer port with real node processes (issue 11, "with TLS on"; security.md
// S1 and §3 row 17): three nodes with certificates of the cluster CA form and serve, while a
// node without a certificate, a node with another CA's certificate, and a client holding a
// valid certificate for node 4 that claims to be node 2 cannot join or send. Each knock shows
// as zabkv_peer_handshake_failures_total on the bootstrap node. The certificates are the
// committed fixtures of test/fixtures/tls (see regenerate.sh there for why).

const FIXTURES = 'test/fixtures/tls';
const root = testDirectory('zabkv-tls-');

/** A copy of a fixture directory with its keys 0600, as a node requires (git keeps no modes). */
function copyFixture(name: string, to: string): string {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const file of readdirSync(join(FIXTURES, name))) {
    copyFileSync(join(FIXTURES, name, file), join(to, file));
    chmodSync(join(to, file), file.endsWith('-key.pem') ? 0o600 : 0o644);
  }
  return to;
}

const good = copyFixture('cluster', join(root, 'tls'));
const otherCa = copyFixture('other-ca', join(root, 'tls-other-ca'));
/** Ports for nodes 1-5: the cluster's three and the intruders' nodes 4 and 5. */
let ports: { firstHttpPort: number; firstPeerPort: number };
let cluster: LocalCluster;
const clients: ZabkvClient[] = [];
const intruders: ChildProcess[] = [];

/** Another launcher on the same ports: its startNode(n) runs node n against our node 1. */
function launcher(name: string, tlsDir?: string): LocalCluster {
  const dataDir = join(root, name);
  mkdirSync(dataDir, { recursive: true });
  return new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir,
    ...ports,
    cli: CLI,
    env: { LOG_LEVEL: 'warn' },
    ...(tlsDir === undefined ? {} : { tlsDir }),
  });
}

/** Node 1's count of failed inbound handshakes, from /metrics. */
async function failures(): Promise<number> {
  const text = await (await fetch(`${httpUrl(cluster.options, 1)}/metrics`)).text();
  const match = /zabkv_peer_handshake_failures_total\{direction="in"\} (\d+)/.exec(text);
  if (match === null) throw new Error('no handshake failure counter in /metrics');
  return Number(match[1]);
}

/** Waits until node 1 counts more handshake failures than `before`. */
const risesAbove = (before: number, what: string) =>
  until(what, async () => ((await failures()) > before ? true : undefined));

/**
 * A TLS client with node 4's valid certificate that says it is node 2 and checks in as node 2
 * at an address of its own choosing. Resolves once node 1 closed the connection.
 */
async function impersonate(): Promise<void> {
  const socket: TLSSocket = connect({
    host: '127.0.0.1',
    port: ports.firstPeerPort,
    ca: readFileSync(join(good, 'ca.pem')),
    cert: readFileSync(join(good, 'node-4.pem')),
    key: readFileSync(join(good, 'node-4-key.pem')),
    checkServerIdentity: () => undefined,
  });
  socket.on('error', () => {});
  socket.once('secureConnect', () => {
    const address = {
      id: 2,
      peer: { host: '127.0.0.1', port: 9 },
      http: { host: '127.0.0.1', port: 9 },
    };
    socket.write(
      Buffer.concat([
        encodeFrame({ kind: 'net.Hello', cluster: 'zabkv', src: 2, dst: 65_535, version: 1 }),
        encodeFrame({ kind: 'bootstrap.CheckIn', src: 2, dst: 65_535, address }),
      ]),
    );
  });
  await new Promise((resolve) => socket.once('close', resolve));
}

interface ClusterView {
  formed: boolean;
  groups?: { members: { id: number; http?: { port: number } }[] }[];
}

beforeAll(async () => {
  ports = await clusterPorts(5);
  mkdirSync(join(root, 'data'), { recursive: true });
  cluster = new LocalCluster({
    nodes: 3,
    replication: 3,
    dataDir: join(root, 'data'),
    ...ports,
    cli: CLI,
    env: { LOG_LEVEL: 'warn' },
    tlsDir: good,
  });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const child of intruders) child.kill('SIGKILL');
  await cluster.stop();
}, 60_000);

describe('a cluster with mutual TLS on the peer port', () => {
  it('refuses a node without a certificate, one of another CA, and a certificate for another id; forms with the right ones', async () => {
    cluster.startNode(1);
    await until('node 1 to answer', async () => ((await failures()) >= 0 ? true : undefined));

    // Each intruder alone, so that the rise of the counter is its own.
    const knock = async (start: () => ChildProcess | Promise<void>, what: string) => {
      const before = await failures();
      const started = start();
      await risesAbove(before, `node 1 to refuse ${what}`);
      if (!(started instanceof Promise)) {
        started.kill('SIGKILL');
        await once(started, 'exit');
      } else await started;
    };
    await knock(() => launcher('plain').startNode(5), 'a node without a certificate');
    await knock(() => launcher('other-ca', otherCa).startNode(4), "a node with another CA's");
    await knock(() => impersonate(), 'node 4 claiming to be node 2');

    cluster.startNode(2);
    cluster.startNode(3);
    await cluster.ready(60_000);
    const view = (await (
      await fetch(`${httpUrl(cluster.options, 1)}/cluster`)
    ).json()) as ClusterView;
    expect(view.formed).toBe(true);
    const members = view.groups!.flatMap((group) => group.members);
    expect(members.map((m) => m.id).sort()).toEqual([1, 2, 3]);
    expect(members.find((m) => m.id === 2)!.http!.port).toBe(ports.firstHttpPort + 1);
  }, 120_000);

  it('keeps serving writes while the intruders keep knocking', async () => {
    intruders.push(launcher('plain').startNode(5), launcher('other-ca', otherCa).startNode(4));
    const before = await failures();
    const client = new ZabkvClient({
      nodes: [1, 2, 3].map((n) => httpUrl(cluster.options, n)),
      timeoutMs: 5_000,
    });
    clients.push(client);
    for (let i = 0; i < 30; i++) {
      if (i % 10 === 0) await impersonate();
      const version = await client.put(`tls-${i}`, `value-${i}`);
      expect((await client.get(`tls-${i}`)).version).toBe(version);
    }
    await risesAbove(before + 3, 'the intruders to be refused again');
    for (let node = 1; node <= 3; node++) {
      const view = (await (
        await fetch(`${httpUrl(cluster.options, node)}/cluster`)
      ).json()) as ClusterView;
      expect(view.groups!.flatMap((g) => g.members.map((m) => m.id)).sort()).toEqual([1, 2, 3]);
    }
    await terminate(intruders.splice(0));
  }, 90_000);

  it('keeps the data directory private: 0700 directories, 0600 files', async () => {
    const loose: string[] = [];
    const walk = (path: string) => {
      const stats = statSync(path);
      if ((stats.mode & 0o077) !== 0) loose.push(`${path} ${(stats.mode & 0o777).toString(8)}`);
      if (stats.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
    };
    for (let node = 1; node <= 3; node++) walk(join(root, 'data', `node-${node}`));
    walk(join(root, 'data', 'node-1.log'));
    expect(loose).toEqual([]);
    expect(statSync(join(root, 'data', 'node-1')).mode & 0o777).toBe(0o700);
  });
});

describe('a node given unusable TLS files', () => {
  /** Runs `zabkv node` with `--tls-dir dir` as node 2; resolves with its exit code and stderr. */
  async function startWith(dir: string) {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'node',
        '--id',
        '2',
        '--peer',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--data',
        join(root, 'refused'),
        '--bootstrap',
        '127.0.0.1:1',
        '--tls-dir',
        dir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  }

  it('refuses to start with a key that group or others can read, as ssh does', async () => {
    const dir = copyFixture('cluster', join(root, 'tls-loose'));
    chmodSync(join(dir, 'node-2-key.pem'), 0o644);
    const { code, stderr } = await startWith(dir);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/permissions 0644 for the TLS key .*node-2-key\.pem are too open/);
    expect(stderr).toContain('chmod 600');
  });

  it('refuses to start with a certificate that names another node', async () => {
    const dir = copyFixture('cluster', join(root, 'tls-swapped'));
    copyFileSync(join(dir, 'node-4.pem'), join(dir, 'node-2.pem'));
    copyFileSync(join(dir, 'node-4-key.pem'), join(dir, 'node-2-key.pem'));
    const { code, stderr } = await startWith(dir);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/node-2\.pem names node 4, not node 2 of cluster zabkv/);
  });
});
