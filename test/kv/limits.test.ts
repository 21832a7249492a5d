import { encodePiece } from '../../state/snapshot-pieces.js';
import { describe, expect, it } from 'vitest';
import {
  MAX_FRAME_BYTES,
  MAX_KEY_BYTES,
  MAX_OPERATION_BYTES,
  MAX_PROPOSAL_MESSAGE_BYTES,
  MAX_REASON_LENGTH,
  MAX_VALUE_BYTES,
  PROPOSAL_PIECE_BYTES,
  PROPOSAL_PIECE_ENTRIES_COUNT,
  SNAP_PIECE_BYTES,
  MAX_SNAP_PIECE_BYTES,
} from '../../components/limits.js';
import { encodeFrame, FrameDecoder } from '../../components/network/frame-codec.js';
import { MessageCatalogue } from '../../components/network/message-catalogue.js';
import { nodeId } from '../../components/network/node-id.js';
import { forwardingMessages, LEADER_HOP } from '../../kv/forwarding-messages.js';
import { encodeOperation } from '../../kv/kv-operation.js';
import { outcomeToFields, unknown } from '../../kv/outcome.js';
import { encodeLogEntry } from '../../replica/log-entry.js';
import { zabMessages } from '../../replica/zab-messages.js';

const catalogue = new MessageCatalogue(zabMessages, forwardingMessages);
const BIG = Number.MAX_SAFE_INTEGER; // every number at its widest msgpack form
const session = {
  src: nodeId(65535),
  dst: nodeId(65534),
  group: 0xffff_ffff,
  session: BIG,
  seq: BIG,
};

/** Encodes `message` as a peer frame, checks its size, and decodes and validates it as a peer would. */
function throughCodec(message: Record<string, unknown>, maxBodyBytes: number): void {
  const frame = encodeFrame(message);
  expect(frame.length - 4).toBeLessThanOrEqual(maxBodyBytes);
  expect(frame.length - 4).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  const [decoded] = new FrameDecoder(MAX_FRAME_BYTES).push(frame);
  expect(catalogue.invalid(decoded)).toBeNull();
}

/** The largest operation: a key of MAX_KEY_BYTES in 3-byte UTF-8, a full value, If-Match. */
function largestOperation(): Uint8Array {
  const key = '€'.repeat(Math.floor(MAX_KEY_BYTES / 3)) + 'k'.repeat(MAX_KEY_BYTES % 3);
  expect(Buffer.byteLength(key)).toBe(MAX_KEY_BYTES);
  const value = new Uint8Array(MAX_VALUE_BYTES).fill(7);
  const operation = encodeOperation({ op: 'put', key, value, condition: { ifMatch: BIG } });
  const entry = encodeLogEntry({ node: nodeId(65535), requestId: 2 ** 52 - 1 }, operation);
  expect(entry.length).toBeLessThanOrEqual(MAX_OPERATION_BYTES);
  return entry;
}

describe('limits', () => {
  it('loads: its relations hold', async () => {
    await expect(import('../../components/limits.js')).resolves.toBeDefined();
    expect(MAX_PROPOSAL_MESSAGE_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('a proposal of the largest operation fits a frame', () => {
    const message = { kind: 'zab.Proposal', ...session, entries: [[BIG, largestOperation()]] };
    throughCodec(message, MAX_PROPOSAL_MESSAGE_BYTES);
  });

  it('a full proposal piece fits a frame', () => {
    const each = PROPOSAL_PIECE_BYTES / PROPOSAL_PIECE_ENTRIES_COUNT;
    const entries = Array.from({ length: PROPOSAL_PIECE_ENTRIES_COUNT }, (_, i) => [
      BIG - i,
      new Uint8Array(each).fill(i),
    ]);
    throughCodec({ kind: 'zab.Proposal', ...session, entries }, MAX_PROPOSAL_MESSAGE_BYTES);
  });

  it('the largest snapshot piece fits a frame', () => {
    const data = new Uint8Array(MAX_SNAP_PIECE_BYTES).fill(3);
    throughCodec(
      { kind: 'zab.Snap', ...session, zxid: BIG, piece: BIG, last: true, data },
      MAX_FRAME_BYTES,
    );
  });

  it('a piece the snapshot reader cuts holds at most its size and one more entry', () => {
    const value = new Uint8Array(MAX_VALUE_BYTES).fill(1);
    const key = '€'.repeat(Math.floor(MAX_KEY_BYTES / 3));
    const piece = encodePiece([
      { key: 'a', version: 1, value: new Uint8Array(SNAP_PIECE_BYTES - 64) },
      { key, version: BIG, value },
    ]);
    expect(piece.byteLength).toBeLessThanOrEqual(MAX_SNAP_PIECE_BYTES);
  });

  it('a forwarded request of the largest operation, and its answer, fit a frame', () => {
    const payload = encodeOperation({
      op: 'put',
      key: '€'.repeat(Math.floor(MAX_KEY_BYTES / 3)),
      value: new Uint8Array(MAX_VALUE_BYTES),
      condition: { ifMatch: BIG },
    });
    const { src, dst } = session;
    const request = {
      kind: 'kv.Request',
      src,
      dst,
      hop: LEADER_HOP,
      group: BIG,
      requestId: BIG,
      payload,
    };
    throughCodec(request, MAX_FRAME_BYTES);
    const answer = {
      kind: 'kv.Response',
      src,
      dst,
      hop: LEADER_HOP,
      requestId: BIG,
      ...outcomeToFields(unknown('\u{1F600}'.repeat(MAX_REASON_LENGTH))),
      epoch: BIG,
      zxid: BIG,
      stale: false,
      leader: nodeId(65535),
    };
    throughCodec(answer, MAX_FRAME_BYTES);
  });
});
