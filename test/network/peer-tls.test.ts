import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectPlain } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ComponentSystem, LiveScheduler } from '../../components/kernel/index.js';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { nodeId, type NodeId, type PeerAddress } from '../../components/network/node-id.js';
import {
  certificateIds,
  certificateNames,
  nodeUri,
  roleUri,
} from '../../components/network/peer-identity.js';
import type { PeerTlsInit } from '../../components/network/peer-tls.js';
import { TcpNode } from './fixtures/tcp-node.js';

// Mutual TLS on the peer port (security.md S1) between nodes in this process, with the
// committed fixtures of test/fixtures/tls (cluster id "zabkv"; node 1 holds the bootstrap role).

const CLUSTER_ID = 'zabkv';
const FIXTURES = 'test/fixtures/tls';
const BOOTSTRAP = nodeId(65_535);
const ROLES = { bootstrap: BOOTSTRAP };

const pem = (dir: string, file: string) => readFileSync(`${FIXTURES}/${dir}/${file}`);
/** The TLS settings of node `id` from the fixture directory `dir`. */
const tlsOf = (id: number, dir = 'cluster'): PeerTlsInit => ({
  ca: pem(dir, 'ca.pem'),
  cert: pem(dir, `node-${id}.pem`),
  key: pem(dir, `node-${id}-key.pem`),
  roles: ROLES,
});

const roots: TcpNode[] = [];
const sockets: { destroy(): void }[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const root of roots.splice(0)) root.kill();
});

async function startNode(
  self: number,
  tls: PeerTlsInit,
  peers: PeerAddress[] = [],
  extra: { aliases?: NodeId[]; echo?: boolean } = {},
) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler(), checkInvariants: true });
  const node = system.createRoot(TcpNode, {
    self: nodeId(self),
    port: 0,
    peers,
    echo: extra.echo ?? false,
    network: { clusterId: CLUSTER_ID, tls, aliases: extra.aliases ?? [] },
  });
  roots.push(node);
  node.start();
  return { node, port: await node.tcp.whenListening() };
}

const hello = (src: number, dst: number) =>
  encodeFrame({ kind: 'net.Hello', cluster: CLUSTER_ID, src, dst, version: 1 });
const ping = (src: number, dst: number, seq: number) =>
  encodeFrame({ kind: 'test.Ping', src, dst, seq });

/** A hand-made TLS client: connects, sends `bytes` once TLS is up, resolves when closed. */
async function tlsClient(port: number, options: ConnectionOptions, bytes: Buffer) {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, ...options });
  sockets.push(socket);
  let error: Error | null = null;
  socket.on('error', (e) => (error = e));
  socket.once('secureConnect', () => socket.write(bytes));
  // Not events.once: it rejects on the 'error' a refused handshake emits first.
  await new Promise((resolve) => socket.once('close', resolve));
  return { error: error as Error | null };
}

const received = (node: TcpNode) => node.probe.received.map((m) => [m.src, m.dst, m.kind]);

describe('certificate names', () => {
  it('reads node ids and roles of its own cluster only', () => {
    const san = [
      `URI:${nodeUri('zabkv', 3)}`,
      `URI:${roleUri('zabkv', 'bootstrap')}`,
      `URI:${nodeUri('other', 9)}`,
      'DNS:localhost',
      'URI:"zabkv://zabkv/node/7, URI:zabkv://zabkv/node/8"',
      'URI:zabkv://zabkv/node/70000',
    ].join(', ');
    const names = certificateNames(san, 'zabkv');
    expect([...names.nodes]).toEqual([3]);
    expect([...names.roles]).toEqual(['bootstrap']);
    expect([...certificateIds(names, ROLES)].sort((a, b) => a - b)).toEqual([3, 65_535]);
    expect([...certificateNames(san, 'other').nodes]).toEqual([9]);
  });

  it('escapes the cluster id, so no id can forge another cluster', () => {
    expect(nodeUri('a/b', 1)).toBe('zabkv://a%2Fb/node/1');
    expect([...certificateNames(`URI:${nodeUri('a/b', 1)}`, 'a/b').nodes]).toEqual([1]);
    expect([...certificateNames('URI:zabkv://a/b/node/1', 'a/b').nodes]).toEqual([]);
  });

  it('the fixtures name what the tests expect', () => {
    const names = (file: string) =>
      certificateNames(new X509Certificate(pem('cluster', file)).subjectAltName, CLUSTER_ID);
    expect([...names('node-1.pem').nodes]).toEqual([1]);
    expect([...names('node-1.pem').roles]).toEqual(['bootstrap']);
    expect([...names('node-4.pem').roles]).toEqual([]);
  });
});

describe('TcpNetwork with mutual TLS', () => {
  it('two nodes with certificates of the cluster CA exchange messages', async () => {
    const a = await startNode(1, tlsOf(1));
    const b = await startNode(2, tlsOf(2), [{ id: nodeId(1), host: '127.0.0.1', port: a.port }], {
      echo: true,
    });
    a.node.probe.setPeers([{ id: nodeId(2), host: '127.0.0.1', port: b.port }]);
    let seq = 0;
    await vi.waitFor(
      () => {
        a.node.probe.send({ kind: 'test.Ping', src: nodeId(1), dst: nodeId(2), seq: seq++ });
        expect(a.node.probe.received.some((m) => m.kind === 'test.Pong')).toBe(true);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(a.node.tcp.stats.handshakeFailures + b.node.tcp.stats.handshakeFailures).toBe(0);
  });

  it('refuses a client without a certificate', async () => {
    const a = await startNode(1, tlsOf(1));
    await tlsClient(
      a.port,
      { ca: pem('cluster', 'ca.pem'), checkServerIdentity: () => undefined },
      Buffer.concat([hello(2, 1), ping(2, 1, 1)]),
    );
    await vi.waitFor(() => expect(a.node.tcp.stats.handshakeFailures).toBe(1));
    expect(received(a.node)).toEqual([]);
  });

  it('refuses a certificate of another CA', async () => {
    const a = await startNode(1, tlsOf(1));
    await tlsClient(
      a.port,
      {
        ca: pem('cluster', 'ca.pem'), // it trusts us; we must not trust it
        cert: pem('other-ca', 'node-2.pem'),
        key: pem('other-ca', 'node-2-key.pem'),
        checkServerIdentity: () => undefined,
      },
      Buffer.concat([hello(2, 1), ping(2, 1, 1)]),
    );
    await vi.waitFor(() => expect(a.node.tcp.stats.handshakeFailures).toBe(1));
    expect(received(a.node)).toEqual([]);
  });

  it('refuses a valid certificate whose Hello claims another id, accepts it under its own', async () => {
    const a = await startNode(1, tlsOf(1));
    const node4 = {
      ca: pem('cluster', 'ca.pem'),
      cert: pem('cluster', 'node-4.pem'),
      key: pem('cluster', 'node-4-key.pem'),
      checkServerIdentity: () => undefined,
    };
    await tlsClient(a.port, node4, Buffer.concat([hello(2, 1), ping(2, 1, 1)]));
    expect(a.node.tcp.stats.handshakeFailures).toBe(1);
    expect(received(a.node)).toEqual([]);
    // The same certificate under its own id gets through.
    const socket = connect({ host: '127.0.0.1', port: a.port, ...node4 });
    sockets.push(socket);
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    socket.write(Buffer.concat([hello(4, 1), ping(4, 1, 7)]));
    await vi.waitFor(() => expect(received(a.node)).toEqual([[4, 1, 'test.Ping']]));
  });

  it('refuses a Hello for the bootstrap alias from a certificate without the role', async () => {
    const a = await startNode(1, tlsOf(1), [], { aliases: [BOOTSTRAP] });
    const node4 = {
      ca: pem('cluster', 'ca.pem'),
      cert: pem('cluster', 'node-4.pem'),
      key: pem('cluster', 'node-4-key.pem'),
      checkServerIdentity: () => undefined,
    };
    await tlsClient(a.port, node4, Buffer.concat([hello(BOOTSTRAP, 1), ping(BOOTSTRAP, 1, 1)]));
    expect(a.node.tcp.stats.handshakeFailures).toBe(1);
    expect(received(a.node)).toEqual([]);
  });

  it('refuses plaintext on the TLS port', async () => {
    const a = await startNode(1, tlsOf(1));
    const socket = connectPlain({ host: '127.0.0.1', port: a.port });
    sockets.push(socket);
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(Buffer.concat([hello(2, 1), ping(2, 1, 1)]));
    await new Promise((resolve) => socket.once('close', resolve));
    await vi.waitFor(() => expect(a.node.tcp.stats.handshakeFailures).toBe(1));
    expect(received(a.node)).toEqual([]);
  });

  it('the dialler refuses a server whose certificate names another node', async () => {
    // Node 4 listens where node 1 believes node 2 is.
    const impostor = await startNode(4, tlsOf(4));
    const a = await startNode(1, tlsOf(1), [
      { id: nodeId(2), host: '127.0.0.1', port: impostor.port },
    ]);
    a.node.probe.send({ kind: 'test.Ping', src: nodeId(1), dst: nodeId(2), seq: 1 });
    await vi.waitFor(() => expect(a.node.tcp.stats.dialHandshakeFailures).toBeGreaterThan(0), {
      timeout: 5_000,
    });
    expect(received(impostor.node)).toEqual([]);
  });

  it('a joining node reaches the bootstrap alias only at the certificate with the bootstrap role', async () => {
    const server = await startNode(1, tlsOf(1), [], { aliases: [BOOTSTRAP] });
    const joiner = await startNode(2, tlsOf(2), [
      { id: BOOTSTRAP, host: '127.0.0.1', port: server.port },
    ]);
    joiner.node.probe.send({ kind: 'test.Ping', src: nodeId(2), dst: BOOTSTRAP, seq: 1 });
    await vi.waitFor(() => expect(received(server.node)).toEqual([[2, BOOTSTRAP, 'test.Ping']]));

    // Node 3 (no role) at the address a second joiner was given as the bootstrap node's.
    const wrong = await startNode(3, tlsOf(3), [], { aliases: [BOOTSTRAP] });
    const misled = await startNode(4, tlsOf(4), [
      { id: BOOTSTRAP, host: '127.0.0.1', port: wrong.port },
    ]);
    misled.node.probe.send({ kind: 'test.Ping', src: nodeId(4), dst: BOOTSTRAP, seq: 1 });
    await vi.waitFor(() => expect(misled.node.tcp.stats.dialHandshakeFailures).toBeGreaterThan(0));
    expect(received(wrong.node)).toEqual([]);
  });
});
