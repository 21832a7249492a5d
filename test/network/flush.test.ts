import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ComponentSystem, LiveScheduler } from '../../components/kernel/index.js';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { nodeId } from '../../components/network/node-id.js';
import { TcpNode } from './fixtures/tcp-node.js';

const A = nodeId(1);
const B = nodeId(2);
const C = nodeId(3);
const HELLO_BYTES = encodeFrame({
  kind: 'net.Hello',
  cluster: 'test-cluster',
  src: A,
  dst: B,
  version: 1,
}).length;

const roots: TcpNode[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) root.kill();
  for (const server of servers.splice(0)) server.close();
});

/** Peer B as a bare TCP server that counts the bytes it reads and can stop reading. */
async function startSink() {
  const sink = { bytes: 0, socket: null as Socket | null, closed: false };
  const server = createServer((socket) => {
    sink.socket = socket;
    socket.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
    socket.on('close', () => (sink.closed = true));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { sink, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

async function startNode(peerPort: number, otherPort?: number) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler(), checkInvariants: true });
  const node = system.createRoot(TcpNode, {
    self: A,
    port: 0,
    peers: [
      { id: B, host: '127.0.0.1', port: peerPort },
      ...(otherPort === undefined ? [] : [{ id: C, host: '127.0.0.1', port: otherPort }]),
    ],
    echo: false,
  });
  roots.push(node);
  node.start();
  await node.tcp.whenListening();
  return node;
}

describe('Flush on the TCP network', () => {
  it('answers at once when nothing is being written', async () => {
    const node = await startNode(1);
    node.probe.flush();
    await vi.waitFor(() => expect(node.probe.flushed).toBe(1));
  });

  it('answers once every frame sent before it has left the process, so a kill loses none', async () => {
    const { sink, port } = await startSink();
    const node = await startNode(port);
    node.probe.send({ kind: 'test.Ping', src: A, dst: B, seq: 0 });
    const first = HELLO_BYTES + encodeFrame({ kind: 'test.Ping', src: A, dst: B, seq: 0 }).length;
    await vi.waitFor(() => expect(sink.bytes).toBe(first));

    // More than the kernel buffers of a loopback connection hold, so while B does not read,
    // the write cannot finish.
    sink.socket!.pause();
    const blob = { kind: 'test.Blob', src: A, dst: B, bytes: new Uint8Array(256 * 1024) } as const;
    const count = 128;
    for (let i = 0; i < count; i++) node.probe.send(blob);
    node.probe.flush();
    // However long B does not read, the Flush stays unanswered (the wait only gives a wrong
    // answer the chance to show).
    await sleep(200);
    expect(node.probe.flushed).toBe(0);

    sink.socket!.resume();
    await vi.waitFor(() => expect(node.probe.flushed).toBe(1), { timeout: 10_000 });
    node.kill();
    await vi.waitFor(() => expect(sink.closed).toBe(true), { timeout: 10_000 });
    expect(sink.bytes).toBe(first + count * encodeFrame(blob).length);
  });

  it('with a peer, waits for what was sent to that peer alone', async () => {
    // A sync's tail is paced by its follower's socket: a stopped other peer must not hold it.
    const stuck = await startSink();
    const reading = await startSink();
    const node = await startNode(stuck.port, reading.port);
    node.probe.send({ kind: 'test.Ping', src: A, dst: B, seq: 0 });
    node.probe.send({ kind: 'test.Ping', src: A, dst: C, seq: 0 });
    await vi.waitFor(() => expect(stuck.sink.socket).not.toBeNull());
    await vi.waitFor(() => expect(reading.sink.bytes).toBeGreaterThan(0));
    stuck.sink.socket!.pause();
    const blob = { kind: 'test.Blob', src: A, dst: B, bytes: new Uint8Array(256 * 1024) } as const;
    for (let i = 0; i < 128; i++) node.probe.send(blob);
    node.probe.send({ kind: 'test.Blob', src: A, dst: C, bytes: new Uint8Array(1024) });
    node.probe.flush(C);
    await vi.waitFor(() => expect(node.probe.flushedPeers).toEqual([C]));
    node.probe.flush(B);
    await sleep(200);
    expect(node.probe.flushedPeers).toEqual([C]); // B reads nothing: its writes cannot finish
    stuck.sink.socket!.resume();
    await vi.waitFor(() => expect(node.probe.flushedPeers).toEqual([C, B]), { timeout: 10_000 });
  });
});
