import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../components/limits.js';
import { nodeId } from '../../components/network/node-id.js';
import { encodeOperation, type KvOperation } from '../../kv/kv-operation.js';
import { beyondLimits } from '../../kv/operation-limits.js';
import { PeerRejections } from '../../kv/peer-rejections.js';
import { makeZxid, MAX_EPOCH } from '../../kv/zxid.js';
import { encodeLogEntry } from '../../replica/log-entry.js';
import { PeerGate } from '../../replica/peer-gate.js';
import { ackEpochFault, entriesFault, followerAhead } from '../../replica/session-checks.js';

const [n1, n2, n3, outsider] = [nodeId(1), nodeId(2), nodeId(3), nodeId(50)];

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  return { lines, warn: (fields: Record<string, unknown>) => void lines.push(fields) };
}

describe('PeerRejections', () => {
  it('counts every rejection by reason, and logs each reason at its 1st, 2nd, 4th, 8th… time', () => {
    const log = recordingLog();
    const rejections = new PeerRejections(log);
    expect(rejections.counts).toEqual({});
    for (let i = 0; i < 1_000; i++) rejections.reject('not-a-member', { from: 50 });
    rejections.reject('over-limits', { from: 4 });
    expect(rejections.counts).toEqual({ 'not-a-member': 1_000, 'over-limits': 1 });
    expect(rejections.total).toBe(1_001);
    expect(log.lines.map((l) => [l['reason'], l['count']])).toEqual([
      ...[1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((count) => ['not-a-member', count]),
      ['over-limits', 1],
    ]);
    expect(log.lines[0]).toMatchObject({ from: 50 });
  });

  it('hands out the same counts object until the next rejection (status reports compare it)', () => {
    const rejections = new PeerRejections(recordingLog());
    rejections.reject('wrong-group', {});
    const first = rejections.counts;
    expect(rejections.counts).toBe(first);
    rejections.reject('wrong-group', {});
    expect(rejections.counts).not.toBe(first);
    expect(rejections.counts).toEqual({ 'wrong-group': 2 });
  });
});

describe('PeerGate', () => {
  const gate = () => new PeerGate({ group: 7, members: [n1, n2, n3] }, recordingLog());
  const vote = (src: number, leader: number) => ({
    kind: 'zab.Vote',
    src: nodeId(src),
    group: 7,
    leader,
  });

  it('admits members of its group only, and counts the rest', () => {
    const g = gate();
    expect(g.admits({ kind: 'zab.Ack', src: n2, group: 7 })).toBe(true);
    expect(g.admits({ kind: 'kv.Response', src: n3 })).toBe(true);
    expect(g.admits({ kind: 'zab.Ack', src: outsider, group: 7 })).toBe(false);
    expect(g.admits({ kind: 'kv.Response', src: outsider })).toBe(false);
    expect(g.admits({ kind: 'zab.Ack', src: n2, group: 8 })).toBe(false);
    expect(g.counts).toEqual({ 'not-a-member': 2, 'wrong-group': 1 });
    expect(g.isMember(n3)).toBe(true);
    expect(g.isMember(outsider)).toBe(false);
  });

  it('refuses a vote for a node outside the group', () => {
    const g = gate();
    expect(g.admits(vote(2, 3))).toBe(true);
    expect(g.admits(vote(2, 50))).toBe(false);
    expect(g.admits(vote(2, 2 ** 40))).toBe(false);
    expect(g.counts).toEqual({ 'not-a-member': 2 });
  });

  it('refuses a promise no leader could exceed: acceptedEpoch + 1 must stay below the maximum', () => {
    const g = gate();
    const info = (acceptedEpoch: number) => ({
      kind: 'zab.FollowerInfo',
      src: n2,
      group: 7,
      acceptedEpoch,
    });
    expect(g.admits(info(MAX_EPOCH - 2))).toBe(true);
    expect(g.admits(info(MAX_EPOCH - 1))).toBe(false);
    expect(g.admits(info(MAX_EPOCH))).toBe(false);
    expect(g.counts).toEqual({ 'impossible-epoch': 2 });
  });
});

describe('session checks', () => {
  const ackEpoch = (currentEpoch: number, lastZxid: number, committed = 0) => ({
    kind: 'zab.AckEpoch' as const,
    src: n2,
    dst: n1,
    group: 7,
    session: 1,
    seq: 1,
    currentEpoch,
    lastZxid,
    committed,
    epochEnds: [],
  });

  it('an ACKEPOCH answers the epoch it promised: currentEpoch below it, no later history', () => {
    expect(ackEpochFault(ackEpoch(-1, makeZxid(5, 3)), 5)).toBeNull();
    expect(ackEpochFault(ackEpoch(4, makeZxid(4, 9)), 5)).toBeNull();
    expect(ackEpochFault(ackEpoch(5, makeZxid(4, 9)), 5)).toMatch(/currentEpoch 5/);
    expect(ackEpochFault(ackEpoch(MAX_EPOCH, 0), 5)).toMatch(/currentEpoch/);
    expect(ackEpochFault(ackEpoch(4, makeZxid(6, 1)), 5)).toMatch(/last zxid/);
    expect(ackEpochFault(ackEpoch(4, makeZxid(4, 9), makeZxid(4, 9)), 5)).toBeNull();
    expect(ackEpochFault(ackEpoch(4, makeZxid(4, 9), makeZxid(4, 10)), 5)).toMatch(/committed/);
  });

  it('a follower is ahead by (currentEpoch, last zxid), never when it promised before', () => {
    const leader = { currentEpoch: 4, lastZxid: makeZxid(4, 10) };
    expect(followerAhead(ackEpoch(4, makeZxid(4, 11)), leader)).toBe(true);
    expect(followerAhead(ackEpoch(4, makeZxid(4, 10)), leader)).toBe(false);
    expect(followerAhead(ackEpoch(3, makeZxid(3, 99)), leader)).toBe(false);
    expect(followerAhead(ackEpoch(-1, makeZxid(9, 99)), leader)).toBe(false);
  });

  it('only writes may be logged', () => {
    const put = encodeOperation({ op: 'put', key: 'k', value: new Uint8Array([1]) });
    const read = encodeOperation({ op: 'get', key: 'k', consistency: 'linearizable' });
    const headed = encodeLogEntry({ node: n2, requestId: 3 }, put);
    expect(
      entriesFault([
        [1, put],
        [2, headed],
      ]),
    ).toBeNull();
    expect(
      entriesFault([
        [1, put],
        [makeZxid(1, 2), read],
      ]),
    ).toMatch(/^1\.2 is not a write/);
    expect(entriesFault([[1, new Uint8Array([0xc1, 0xc1])]])).toMatch(/not a write/);
  });
});

describe('beyondLimits: the HTTP limits, for operations that come from peers', () => {
  const put = (key: string, bytes = 1): KvOperation => ({
    op: 'put',
    key,
    value: new Uint8Array(bytes),
  });

  it('wants a key of 1 to MAX_KEY_BYTES bytes of UTF-8 and a value up to MAX_VALUE_BYTES', () => {
    expect(beyondLimits(put('k'))).toBeNull();
    expect(beyondLimits(put(''))).toBe('empty key');
    expect(beyondLimits({ op: 'get', key: '', consistency: 'stale' })).toBe('empty key');
    expect(beyondLimits(put('k'.repeat(MAX_KEY_BYTES)))).toBeNull();
    expect(beyondLimits(put('k'.repeat(MAX_KEY_BYTES + 1)))).toMatch(/key over/);
    expect(beyondLimits({ op: 'delete', key: 'k'.repeat(MAX_KEY_BYTES + 1) })).toMatch(/key/);
    expect(beyondLimits(put('k', MAX_VALUE_BYTES))).toBeNull();
    expect(beyondLimits(put('k', MAX_VALUE_BYTES + 1))).toMatch(/value over/);
  });

  it('counts the key in UTF-8 bytes, as the HTTP edge does', () => {
    const utf8 = new TextEncoder();
    for (const key of [
      '€'.repeat(Math.floor(MAX_KEY_BYTES / 3)),
      '€'.repeat(Math.floor(MAX_KEY_BYTES / 3) + 1),
      '😀'.repeat(MAX_KEY_BYTES / 4),
      '😀'.repeat(MAX_KEY_BYTES / 4 + 1),
      'é'.repeat(MAX_KEY_BYTES / 2) + 'x',
      '\ud800'.repeat(341) + 'x',
      '\ud800'.repeat(341) + 'xy',
    ]) {
      const over = utf8.encode(key).length > MAX_KEY_BYTES;
      expect(beyondLimits(put(key)) !== null, JSON.stringify(key.slice(0, 4))).toBe(over);
    }
  });
});
