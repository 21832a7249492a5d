import { type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import type { TcpNode } from './fixtures/tcp-node.js';
import { CLUSTER } from './fixtures/tcp-node.js';
import { A, B, hello, listeningNodes } from './fixtures/listening-node.js';

// The peer port before and around the handshake (security.md §1, "Peer TCP: before the
// handshake"; §3 rows 10-12, 16): timeouts, the small pre-Hello frame limit, connection caps,
// and a second connection for an id that is already connected.

const { startNode, dial } = listeningNodes();

const ping = (seq: number, src: NodeId = B) => encodeFrame({ kind: 'test.Ping', src, dst: A, seq });

/** Resolves when `socket` closes; rejects if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<number> {
  const started = Date.now();
  if (socket.destroyed) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

const seqs = (node: TcpNode) => node.probe.received.map((m) => (m as { seq: number }).seq);

describe('the peer port before the Hello', () => {
  it('closes a connection that sends nothing once the handshake timeout passes', async () => {
    const { node, port } = await startNode({ handshakeTimeoutMs: 300 });
    const silent = await dial(port);
    const elapsed = await closedWithin(silent, 5_000);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(node.tcp.stats.handshakeTimeouts).toBe(1);
    expect(node.tcp.stats.handshakeFailures).toBe(0);
  });

  it('a Hello in time cancels the timeout', async () => {
    const { node, port } = await startNode({ handshakeTimeoutMs: 300 });
    const socket = await dial(port);
    socket.write(hello());
    await new Promise((resolve) => setTimeout(resolve, 600));
    socket.write(ping(1));
    await vi.waitFor(() => expect(seqs(node)).toEqual([1]));
    expect(socket.destroyed).toBe(false);
    expect(node.tcp.stats.handshakeTimeouts).toBe(0);
  });

  it('closes at once a connection that announces a 16 MiB frame before its Hello', async () => {
    const { node, port } = await startNode({ handshakeTimeoutMs: 30_000 });
    const socket = await dial(port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 2 ** 20);
    socket.write(header);
    // Then trickles: nothing of it is buffered, the connection is already gone.
    for (let i = 0; i < 20 && !socket.destroyed; i++) socket.write(Buffer.alloc(16));
    await closedWithin(socket, 2_000);
    expect(node.tcp.stats.badFrames).toBe(1);
  });

  it('allows big frames once the Hello is accepted, even in the same write', async () => {
    const { node, port } = await startNode();
    const socket = await dial(port);
    const blob = encodeFrame({ kind: 'test.Blob', src: B, dst: A, bytes: Buffer.alloc(65_536) });
    socket.write(Buffer.concat([hello(), blob, ping(2)]));
    await vi.waitFor(() => expect(node.probe.received).toHaveLength(1));
    expect(node.probe.received[0]).toMatchObject({ kind: 'test.Ping', seq: 2 });
    expect(node.tcp.stats.framesIn).toBe(2);
    expect(node.tcp.stats.badFrames).toBe(0);
  });

  /** Dials an idle socket and waits until the node has admitted it (so the order is known). */
  async function idle(node: TcpNode, port: number, from: string): Promise<Socket> {
    const before = node.tcp.stats.connectionsAccepted;
    const socket = await dial(port, from);
    await vi.waitFor(() => expect(node.tcp.stats.connectionsAccepted).toBe(before + 1));
    return socket;
  }

  it('makes room when the handshake slots are full: a peer gets in past idle sockets', async () => {
    // Before: 64 idle sockets from one address refused every reconnect until they timed out.
    const { node, port } = await startNode({ maxHandshakes: 3, handshakeTimeoutMs: 30_000 });
    const idlers = [];
    for (let i = 0; i < 3; i++) idlers.push(await idle(node, port, '127.0.0.1'));
    const peer = await dial(port, '127.0.0.2');
    peer.write(Buffer.concat([hello(), ping(3)]));
    await vi.waitFor(() => expect(seqs(node)).toEqual([3]));
    // The oldest handshake of the source that held them all made room.
    await closedWithin(idlers[0]!, 2_000);
    expect(idlers[1]!.destroyed || idlers[2]!.destroyed).toBe(false);
    expect(node.tcp.stats.handshakesEvicted).toBe(1);
    expect(node.tcp.stats.connectionsRefused).toBe(0);
    expect(node.tcp.stats.handshakeTimeouts).toBe(0);
  });

  it('evicts from the source holding the most handshakes, not the oldest of all', async () => {
    const { node, port } = await startNode({ maxHandshakes: 4, handshakeTimeoutMs: 30_000 });
    const lone = await idle(node, port, '127.0.0.2');
    const crowd = [];
    for (let i = 0; i < 3; i++) crowd.push(await idle(node, port, '127.0.0.1'));
    const newcomer = await idle(node, port, '127.0.0.3');
    await closedWithin(crowd[0]!, 2_000);
    expect(lone.destroyed || crowd[1]!.destroyed || crowd[2]!.destroyed).toBe(false);
    expect(newcomer.destroyed).toBe(false);
    expect(node.tcp.stats.handshakesEvicted).toBe(1);
  });

  it('caps handshakes per source: one at its cap makes room from its own oldest', async () => {
    const { node, port } = await startNode({
      maxHandshakesPerSource: 2,
      handshakeTimeoutMs: 30_000,
    });
    const first = await idle(node, port, '127.0.0.1');
    const other = await idle(node, port, '127.0.0.2');
    const second = await idle(node, port, '127.0.0.1');
    const third = await idle(node, port, '127.0.0.1');
    await closedWithin(first, 2_000);
    expect(other.destroyed || second.destroyed || third.destroyed).toBe(false);
    expect(node.tcp.stats.handshakesEvicted).toBe(1);
    // A handshake that completes frees its source's slot: a peer behind the address gets in.
    third.write(Buffer.concat([hello(), ping(4)]));
    await vi.waitFor(() => expect(seqs(node)).toEqual([4]));
    const fourth = await idle(node, port, '127.0.0.1');
    expect(second.destroyed || fourth.destroyed).toBe(false);
    expect(node.tcp.stats.handshakesEvicted).toBe(1);
  });

  it('refuses connections over the cap on inbound connections', async () => {
    const { node, port } = await startNode({ maxInboundConnections: 2 });
    const one = await dial(port);
    one.write(Buffer.concat([hello(nodeId(2)), ping(1, nodeId(2))]));
    const two = await dial(port);
    two.write(Buffer.concat([hello(nodeId(3)), ping(1, nodeId(3))]));
    await vi.waitFor(() => expect(node.probe.received).toHaveLength(2));
    const three = await dial(port);
    await closedWithin(three, 2_000);
    expect(node.tcp.stats.connectionsRefused).toBe(1);
    one.destroy();
    await vi.waitFor(() => expect(node.probe.linkDowns).toEqual([nodeId(2)]));
    const again = await dial(port);
    again.write(Buffer.concat([hello(nodeId(4)), ping(1, nodeId(4))]));
    await vi.waitFor(() => expect(node.probe.received).toHaveLength(3));
  });
});

describe('a second connection claiming a connected id', () => {
  // Decision: the newer connection replaces the older, and that is not a LinkDown. A peer
  // that redials (its process restarted, or its side of the old connection broke) is
  // believed at once; refusing it instead would lock the peer out for as long as the old
  // connection looks open here, which without keepalive can be forever. Only the close of the
  // current connection is a LinkDown, so a stray second connection, and its close, no longer
  // end the peer's ZAB session. Without TLS anyone may claim an id (what TLS is for); with TLS
  // only the holder of that id's certificate can.
  it('replaces the older without a LinkDown; the close of the current one is the LinkDown', async () => {
    const { node, port } = await startNode();
    const older = await dial(port);
    older.write(Buffer.concat([hello(), ping(1)]));
    await vi.waitFor(() => expect(seqs(node)).toEqual([1]));

    const newer = await dial(port);
    newer.write(Buffer.concat([hello(), ping(2)]));
    await closedWithin(older, 2_000);
    await vi.waitFor(() => expect(seqs(node)).toEqual([1, 2]));
    expect(node.tcp.stats.connectionsReplaced).toBe(1);
    // Give a spurious LinkDown every chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(node.probe.linkDowns).toEqual([]);

    newer.write(ping(3));
    await vi.waitFor(() => expect(seqs(node)).toEqual([1, 2, 3]));
    newer.destroy();
    await vi.waitFor(() => expect(node.probe.linkDowns).toEqual([B]));
  });

  it('keeps connections from one peer to different ids (its own and an alias) apart', async () => {
    const alias = nodeId(65_535);
    const { node, port } = await startNode({ aliases: [alias] });
    const direct = await dial(port);
    direct.write(Buffer.concat([hello(), ping(1)]));
    const viaAlias = await dial(port);
    viaAlias.write(
      Buffer.concat([
        encodeFrame({ kind: 'net.Hello', cluster: CLUSTER, src: B, dst: alias, version: 1 }),
        encodeFrame({ kind: 'test.Ping', src: B, dst: alias, seq: 2 }),
      ]),
    );
    await vi.waitFor(() => expect(seqs(node).sort()).toEqual([1, 2]));
    expect(node.tcp.stats.connectionsReplaced).toBe(0);
    expect(direct.destroyed || viaAlias.destroyed).toBe(false);
  });
});
