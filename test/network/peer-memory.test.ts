import { type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import type { TcpNode } from './fixtures/tcp-node.js';
import { A, B, hello, listeningNodes } from './fixtures/listening-node.js';

// The peer port after the Hello: what incomplete frames may hold. A connection that stops in
// the middle of a frame is closed after the stall timeout, and the incomplete frames of all
// connections together stay within a budget (before, each of 1024 connections could hold a
// 16 MiB partial frame forever).

const [C, D] = [nodeId(3), nodeId(4)];
const { startNode, dial } = listeningNodes();

const ping = (seq: number, src: NodeId) => encodeFrame({ kind: 'test.Ping', src, dst: A, seq });
/** A whole frame of `frameBytes` bytes (header included). */
const blob = (src: NodeId, frameBytes: number) => {
  const frame = encodeFrame({ kind: 'test.Blob', src, dst: A, bytes: Buffer.alloc(frameBytes) });
  // msgpack's envelope: trim the payload so the frame is exactly `frameBytes`.
  const over = frame.length - frameBytes;
  return encodeFrame({ kind: 'test.Blob', src, dst: A, bytes: Buffer.alloc(frameBytes - over) });
};

/** Resolves when `socket` closes; rejects if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const seqs = (node: TcpNode) =>
  node.probe.received.map((m) => (m as { seq: number }).seq).sort((a, b) => a - b);

describe('an incomplete frame that stops arriving', () => {
  it('closes the connection after the stall timeout, and only that one', async () => {
    const { node, port } = await startNode({ frameStallTimeoutMs: 300 });
    const quiet = await dial(port);
    quiet.write(Buffer.concat([hello(C), ping(1, C)])); // idle between whole frames: fine
    const staller = await dial(port);
    const started = Date.now();
    staller.write(Buffer.concat([hello(B), ping(2, B), blob(B, 100_000).subarray(0, 50_000)]));
    await vi.waitFor(() => expect(seqs(node)).toEqual([1, 2]));
    await closedWithin(staller, 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(node.tcp.stats.frameStalls).toBe(1);
    expect(node.tcp.stats.bufferedBytes).toBe(0);
    await vi.waitFor(() => expect(node.probe.linkDowns).toEqual([B]));
    // The quiet connection sat idle for as long, holding no partial frame: still served.
    expect(quiet.destroyed).toBe(false);
    quiet.write(ping(3, C));
    await vi.waitFor(() => expect(seqs(node)).toEqual([1, 2, 3]));
  });

  it('keeps a slow frame whose bytes keep coming, however long it takes in all', async () => {
    const { node, port } = await startNode({ frameStallTimeoutMs: 500 });
    const slow = await dial(port);
    slow.write(hello(B));
    const frame = Buffer.concat([blob(B, 30_000), ping(5, B)]);
    // 30 pieces 50 ms apart: 1.5 s in all, three times the timeout, never 500 ms silent.
    const pieces = 30;
    const size = Math.ceil(frame.length / pieces);
    for (let i = 0; i < pieces; i++) {
      slow.write(frame.subarray(i * size, (i + 1) * size));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await vi.waitFor(() => expect(seqs(node)).toEqual([5]));
    expect(slow.destroyed).toBe(false);
    expect(node.tcp.stats.frameStalls).toBe(0);
    expect(node.tcp.stats.framesIn).toBe(2);
  });
});

describe('the budget of incomplete frames across connections', () => {
  it('closes the connection holding the largest incomplete frame when over it', async () => {
    const { node, port } = await startNode({ maxBufferedBytes: 1_000_000 });
    const frames = { [B]: blob(B, 600_000), [C]: blob(C, 600_000), [D]: blob(D, 600_000) };
    const x = await dial(port);
    x.write(Buffer.concat([hello(B), frames[B].subarray(0, 550_000)]));
    await vi.waitFor(() => expect(node.tcp.stats.bufferedBytes).toBe(550_000));
    const y = await dial(port);
    y.write(Buffer.concat([hello(C), frames[C].subarray(0, 100_000)]));
    await vi.waitFor(() => expect(node.tcp.stats.bufferedBytes).toBe(650_000));
    // The newest sender takes the total over: the largest frame goes, not the newest.
    const z = await dial(port);
    z.write(Buffer.concat([hello(D), frames[D].subarray(0, 400_000)]));
    await closedWithin(x, 5_000);
    expect(node.tcp.stats.bufferEvictions).toBe(1);
    await vi.waitFor(() => expect(node.tcp.stats.bufferedBytes).toBe(500_000));
    expect(y.destroyed || z.destroyed).toBe(false);
    // The others complete their frames and go on.
    z.write(Buffer.concat([frames[D].subarray(400_000), ping(7, D)]));
    y.write(Buffer.concat([frames[C].subarray(100_000), ping(8, C)]));
    await vi.waitFor(() => expect(seqs(node)).toEqual([7, 8]));
    expect(node.tcp.stats.bufferedBytes).toBe(0);
    expect(node.tcp.stats.bufferEvictions).toBe(1);
    expect(node.tcp.stats.badFrames).toBe(0);
    await vi.waitFor(() => expect(node.probe.linkDowns).toEqual([B]));
  });
});
