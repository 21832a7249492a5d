import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { MAX_PEER_LOG_REASON_LENGTH } from '../../components/limits.js';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { MessageCatalogue } from '../../components/network/message-catalogue.js';
import type { TcpNetworkInit } from '../../components/network/tcp-network.js';
import { boundedReason, WarnLimiter } from '../../components/network/warn-limiter.js';
import { PeerRejections } from '../../kv/peer-rejections.js';
import type { TcpNode } from './fixtures/tcp-node.js';
import { A, B, hello, listeningNodes } from './fixtures/listening-node.js';
import { testMessages } from './fixtures/test-messages.js';

// What a peer (or a stranger on the peer port) can make a node log: every line it can cause
// is bounded in length, and in number per interval.

type Line = Record<string, unknown> & { level: number; msg: string };
const DEBUG = 20;
const INFO = 30;
const WARN = 40;

/** A pino logger at debug that keeps its lines, parsed. */
function recordingLogger() {
  const lines: Line[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (text: string) => void lines.push(JSON.parse(text) as Line) },
  );
  return { lines, logger };
}

const nodes = listeningNodes();
const dial = nodes.dial;

async function startNode(network: Partial<TcpNetworkInit>) {
  const { lines, logger } = recordingLogger();
  return { ...(await nodes.startNode(network, logger)), lines };
}

const ping = (seq: number) => encodeFrame({ kind: 'test.Ping', src: B, dst: A, seq });
const seqs = (node: TcpNode) => node.probe.received.map((m) => (m as { seq: number }).seq);

describe('reasons built from peer input', () => {
  const hugeKey = 'k'.repeat(1_000_000);

  it('are cut to MAX_PEER_LOG_REASON_LENGTH characters, saying how long they were', () => {
    const catalogue = new MessageCatalogue(testMessages);
    const reason = catalogue.invalid({ kind: 'test.Ping', src: 2, dst: 1, seq: 1, [hugeKey]: 1 });
    expect(reason).not.toBeNull();
    expect(reason!.length).toBeLessThanOrEqual(MAX_PEER_LOG_REASON_LENGTH);
    expect(reason).toMatch(/^bad test\.Ping: \/k+… \(\d+ characters\)$/);
    // Short reasons are left alone.
    expect(catalogue.invalid({ kind: 'test.Ping', src: 2, dst: 1, seq: -1 })).toMatch(
      /^bad test\.Ping: \/seq /,
    );
    expect(boundedReason('x'.repeat(MAX_PEER_LOG_REASON_LENGTH))).toHaveLength(
      MAX_PEER_LOG_REASON_LENGTH,
    );
  });

  it('a message with a megabyte property name makes a short warn line', async () => {
    const { node, lines, port } = await startNode({});
    const socket = await dial(port);
    const bad = encodeFrame({ kind: 'test.Ping', src: B, dst: A, seq: 1, [hugeKey]: 1 });
    socket.write(Buffer.concat([hello(), bad]));
    await vi.waitFor(() => expect(node.tcp.stats.badFrames).toBe(1));
    const warned = lines.filter((line) => line.level === WARN);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toBe('bad frame from peer: closing connection');
    expect(JSON.stringify(warned[0]).length).toBeLessThan(1_000);
  });
});

describe('connection replacements', () => {
  it('log one info line per interval, the rest at debug', async () => {
    // An hour: every replacement below falls in one interval, whatever the machine's speed.
    const { node, lines, port } = await startNode({ warnIntervalMs: 3_600_000 });
    const replaced = 'a newer connection from this peer replaces the older one';
    for (let seq = 1; seq <= 5; seq++) {
      const socket = await dial(port);
      socket.write(Buffer.concat([hello(), ping(seq)]));
      await vi.waitFor(() => expect(seqs(node)).toHaveLength(seq));
    }
    await vi.waitFor(() => expect(node.tcp.stats.connectionsReplaced).toBe(4));
    const about = lines.filter((line) => line.msg === replaced);
    expect(about.map((line) => line.level)).toEqual([INFO, DEBUG, DEBUG, DEBUG]);
    expect(node.probe.linkDowns).toEqual([]);
  });

  it('the next line after the interval says how many were suppressed', () => {
    const { lines, logger } = recordingLogger();
    let now = 0;
    const limiter = new WarnLimiter(logger, 10_000, () => now);
    for (let i = 0; i < 3; i++) limiter.info('connectionsReplaced', { i }, 'replaced');
    now = 10_000;
    limiter.info('connectionsReplaced', { i: 3 }, 'replaced');
    expect(lines.map((line) => [line.level, line['i'], line['suppressed']])).toEqual([
      [INFO, 0, undefined],
      [DEBUG, 1, undefined],
      [DEBUG, 2, undefined],
      [INFO, 3, 2],
    ]);
  });
});

describe('PeerRejections warn backoff', () => {
  function recordingWarnLog() {
    const counts: number[] = [];
    return {
      counts,
      warn: (fields: Record<string, unknown>) => void counts.push(fields['count'] as number),
    };
  }

  it('starts over once the reset interval has passed since its last line', () => {
    const log = recordingWarnLog();
    let now = 0;
    const rejections = new PeerRejections(log, () => now, 60_000);
    for (let i = 0; i < 100; i++) rejections.reject('not-a-member', {});
    expect(log.counts).toEqual([1, 2, 4, 8, 16, 32, 64]);
    // Within the interval of the last line (at count 64): the backoff goes on.
    now = 59_999;
    rejections.reject('not-a-member', {});
    expect(log.counts).toHaveLength(7);
    // A later attack is logged again, its first rejections as a new run of 1, 2, 4….
    now = 60_000;
    for (let i = 0; i < 4; i++) rejections.reject('not-a-member', {});
    expect(log.counts).toEqual([1, 2, 4, 8, 16, 32, 64, 102, 103, 105]);
    expect(rejections.counts).toEqual({ 'not-a-member': 105 });
  });

  it('an attack that goes on is logged again every interval or so, a few lines each time', () => {
    let now = 0;
    const at: number[] = [];
    const rejections = new PeerRejections({ warn: () => void at.push(now) }, () => now, 60_000);
    // 100 rejections a second for ten minutes.
    for (let second = 0; second < 600; second++) {
      now = second * 1_000;
      for (let i = 0; i < 100; i++) rejections.reject('impossible-epoch', {});
    }
    expect(rejections.total).toBe(60_000);
    // Never a minute (and the second it takes the next rejection to come) without a line…
    const gaps = at.slice(1).map((time, i) => time - at[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(61_000);
    expect(at.at(-1)).toBeGreaterThanOrEqual(600_000 - 61_000);
    // …and a few dozen lines for 60,000 rejections.
    expect(at.length).toBeLessThan(100);
  });

  it('without a clock, never starts over (protocol code without a time source)', () => {
    const log = recordingWarnLog();
    const rejections = new PeerRejections(log);
    for (let i = 0; i < 1_000; i++) rejections.reject('wrong-group', {});
    expect(log.counts).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  });
});
