import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ComponentSystem, LiveScheduler } from '../../components/kernel/index.js';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { CLUSTER, TcpNode } from './fixtures/tcp-node.js';

const ECHO_NODE = 'dist/test/network/fixtures/echo-node.js';
const A = nodeId(1);
const B = nodeId(2);

const children: ChildProcess[] = [];
const roots: TcpNode[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const root of roots.splice(0)) root.kill();
});

/** Starts the echo node as its own OS process and resolves with its port once it listens. */
async function startEchoProcess(port: number, peerPort: number) {
  const child = spawn(
    process.execPath,
    [ECHO_NODE, String(B), String(port), String(A), String(peerPort)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  let output = '';
  const bound = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`echo node exited with ${code}`)));
  });
  return { child, port: bound };
}

/** Node A, in this process, knowing B at `peerPort`. */
async function startLocalNode(peerPort: number) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler(), checkInvariants: true });
  const node = system.createRoot(TcpNode, {
    self: A,
    port: 0,
    peers: [{ id: B, host: '127.0.0.1', port: peerPort }],
    echo: false,
  });
  roots.push(node);
  node.start();
  const port = await node.tcp.whenListening();
  return { node, port };
}

const pongSeqs = (node: TcpNode) =>
  node.probe.received.filter((m) => m.kind === 'test.Pong').map((m) => (m as { seq: number }).seq);

function ping(node: TcpNode, dst: NodeId, seq: number) {
  node.probe.send({ kind: 'test.Ping', src: A, dst, seq });
}

describe('TcpNetwork between two processes', () => {
  it('exchanges messages in order, survives kill -9 and restart of the peer', async () => {
    // Learn a free port for B first, then give A the address.
    const first = await startEchoProcess(0, 1);
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const a = await startLocalNode(first.port);
    const b = await startEchoProcess(first.port, a.port);

    for (let seq = 0; seq < 1_000; seq++) ping(a.node, B, seq);
    await vi.waitFor(() => expect(pongSeqs(a.node)).toHaveLength(1_000), { timeout: 10_000 });
    expect(pongSeqs(a.node)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));

    b.child.kill('SIGKILL');
    await once(b.child, 'exit');
    await startEchoProcess(first.port, a.port);

    // Messages sent around the crash may be lost; A keeps pinging until the new B answers.
    let seq = 1_000;
    await vi.waitFor(
      () => {
        ping(a.node, B, seq++);
        expect(pongSeqs(a.node).some((s) => s >= 1_000)).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    const seqs = pongSeqs(a.node);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y)); // FIFO, gaps allowed
    expect(a.node.tcp.stats.connectionsDialed).toBeGreaterThanOrEqual(2);
  });

  it('delivers a message to itself without encoding it', async () => {
    const a = await startLocalNode(1);
    const message = { kind: 'test.Ping', src: A, dst: A, seq: 7 } as const;
    a.node.probe.send(message);
    await vi.waitFor(() => expect(a.node.probe.received).toHaveLength(1));
    expect(a.node.probe.received[0]).toBe(message);
    expect(a.node.tcp.stats.localDeliveries).toBe(1);
    expect(a.node.tcp.stats.framesOut).toBe(0);
  });
});

describe('TcpNetwork against bad input on the peer port', () => {
  const hello = (overrides: Record<string, unknown> = {}) =>
    encodeFrame({ kind: 'net.Hello', cluster: CLUSTER, src: B, dst: A, version: 1, ...overrides });

  type Counter = 'badFrames' | 'handshakeFailures';
  const cases: [string, Buffer, Counter][] = [
    ['random bytes', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage'), 'badFrames'],
    ['an oversized length prefix', Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]), 'badFrames'],
    [
      'an undecodable body',
      Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0xc1, 0xc1, 0xc1])]),
      'badFrames',
    ],
    ['a handshake for another cluster', hello({ cluster: 'someone-else' }), 'handshakeFailures'],
    ['a handshake for another node', hello({ dst: 9 }), 'handshakeFailures'],
    [
      'an unknown message kind',
      Buffer.concat([hello(), encodeFrame({ kind: 'evil', src: B, dst: A })]),
      'badFrames',
    ],
    [
      'a message with a bad field',
      Buffer.concat([hello(), encodeFrame({ kind: 'test.Ping', src: B, dst: A, seq: -1 })]),
      'badFrames',
    ],
    [
      'a spoofed sender',
      Buffer.concat([hello(), encodeFrame({ kind: 'test.Ping', src: 5, dst: A, seq: 1 })]),
      'badFrames',
    ],
  ];

  it.each(cases)(
    'closes the connection on %s, counts it, and keeps serving',
    async (_name, bytes, counter) => {
      const b = await startEchoProcess(0, 1);
      const a = await startLocalNode(b.port);
      const socket = connect({ host: '127.0.0.1', port: a.port });
      await once(socket, 'connect');
      socket.on('error', () => {});
      socket.write(bytes);
      await once(socket, 'close');
      expect(a.node.tcp.stats[counter]).toBe(1);
      expect(a.node.tcp.stats.badFrames + a.node.tcp.stats.handshakeFailures).toBe(1);
      expect(a.node.probe.received).toEqual([]);

      // A well-behaved peer still gets through: B learns A's address by restarting it with it.
      b.child.kill('SIGKILL');
      await once(b.child, 'exit');
      await startEchoProcess(b.port, a.port);
      let seq = 0;
      await vi.waitFor(
        () => {
          ping(a.node, B, seq++);
          expect(pongSeqs(a.node).length).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 20 },
      );
    },
  );
});
